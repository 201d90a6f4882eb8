package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hangar/blob"
	"hangar/config"
	"hangar/hangartest"

	"github.com/minio/minio-go/v7"
)

// On an S3 bucket in proxy mode the bytes come through Hangar, ranges
// included; when the store stops answering, /readyz says so and an upload
// is a 503 that records nothing.
func TestS3ProxyAndOutage(t *testing.T) {
	s3, bucket := testBucket(t)
	base, stderr, stop := startServeWith(t, filepath.Join(t.TempDir(), "data"), onS3(bucket, "delivery = \"proxy\"\n"))
	defer stop()
	admin := firstToken(t, stderr.String())
	apiCall(t, "POST", base+"/api/v1/workspace", admin, "", strings.NewReader(`{"slug":"acme"}`), nil)
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project", admin, "", strings.NewReader(`{"slug":"app"}`), nil)
	upload := func(name string) (int, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile("file", name)
		w.Write(bytes.Repeat([]byte("hangar "), 100_000))
		mw.Close()
		r, _ := http.NewRequest("POST", base+"/api/v1/workspace/acme/project/app/build", &b)
		r.Header.Set("Authorization", "Bearer "+admin)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	code, body := upload("notes.zip")
	var build struct{ Files []struct{ FileID string } }
	if code != 201 || json.Unmarshal(body, &build) != nil {
		t.Fatalf("upload: %d %s", code, body)
	}
	// Applivery's file URL: Hangar's signed URL, which in proxy mode serves
	// the bytes itself.
	r, _ := http.NewRequest("GET", base+"/api/v1/workspace/acme/project/app/build/file/"+build.Files[0].FileID, nil)
	r.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("file URL: %v %v", resp.StatusCode, err)
	}
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r, _ = http.NewRequest("GET", string(signed), nil)
	r.Header.Set("Range", "bytes=7-13")
	resp, err = http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(part) != "hangar " || !strings.HasPrefix(r.URL.String(), base) {
		t.Fatalf("ranged download through Hangar: %d %q from %s", resp.StatusCode, part, r.URL)
	}

	expectDamage(t) // no fsck after the test: the store is gone
	s3.Stop()
	resp, err = http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the store down: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	// On a bucket a file sent again is uploaded like any other (comparing
	// would download the stored copy): both uploads fail at the store.
	for _, name := range []string{"notes.zip", "other.zip"} {
		code, body = upload(name)
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "STORAGE_UNAVAILABLE") {
			t.Fatalf("upload of %s with the store down: %d %s", name, code, body)
		}
	}
	var builds []struct{ BuildID string }
	apiCall(t, "GET", base+"/api/v1/workspace/acme/project/app/build", admin, "", nil, &builds)
	if len(builds) != 1 {
		t.Fatalf("%d builds after refused uploads, want 1", len(builds))
	}
	// The store's operations are in /metrics: one upload that went, two
	// that did not.
	r, _ = http.NewRequest("GET", base+"/metrics", nil)
	r.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hangar_blob_store_operations_total{op="upload",result="ok"} 1`, `hangar_blob_store_operations_total{op="upload",result="error"} 2`,
		`hangar_blob_store_seconds_total{op="copy"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// S3 credentials are never taken from a file others can read.
func TestS3CredentialsFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "credentials")
	os.WriteFile(file, []byte("[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s3cr3t\n[other]\naws_access_key_id = NO\n"), 0o644)
	if _, _, err := readCredentials(file); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable credentials file: %v", err)
	}
	os.Chmod(file, 0o600)
	if a, s, err := readCredentials(file); err != nil || a != "AKIA1" || s != "s3cr3t" {
		t.Fatalf("credentials: %q %q %v", a, s, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	cfg := config.Default()
	cfg.Blobs.Backend, cfg.Blobs.Endpoint, cfg.Blobs.Bucket = "s3", "127.0.0.1:1", "b"
	if _, err := openBucket(cfg); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("no credentials: %v", err)
	}
}

// fsck checks the bucket: a blob removed behind Hangar's back is reported
// missing, one changed in place fails -verify.
func TestS3Fsck(t *testing.T) {
	s3, bucket := testBucket(t)
	blobs := onS3(bucket)
	data := filepath.Join(t.TempDir(), "data")
	base, stderr, stop := startServeWith(t, data, blobs)
	admin := firstToken(t, stderr.String())
	apiCall(t, "POST", base+"/api/v1/workspace", admin, "", strings.NewReader(`{"slug":"acme"}`), nil)
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project", admin, "", strings.NewReader(`{"slug":"app"}`), nil)
	for _, content := range []string{"first file!", "second file"} { // 11 bytes each
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile("file", "a.zip")
		io.WriteString(w, content)
		mw.Close()
		apiCall(t, "POST", base+"/api/v1/workspace/acme/project/app/build", admin, mw.FormDataContentType(), &b, nil)
	}
	stop()
	expectDamage(t)
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\n%s", data, blobs)), 0o600)
	fsck := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Run(context.Background(), append([]string{"fsck", "-config", cfg}, args...), nil, &out, &out)
		return code, out.String()
	}
	if code, out := fsck("-verify"); code != exitOK {
		t.Fatalf("fsck of a sound bucket: %d\n%s", code, out)
	}
	var keys []string
	for oi := range s3.Client.ListObjectsIter(context.Background(), s3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		keys = append(keys, oi.Key)
	}
	if len(keys) != 2 {
		t.Fatalf("objects: %v", keys)
	}
	s3.Client.RemoveObject(context.Background(), s3.Bucket, keys[0], minio.RemoveObjectOptions{})
	s3.Client.PutObject(context.Background(), s3.Bucket, keys[1], strings.NewReader("other file!"), 11, minio.PutObjectOptions{})
	code, out := fsck("-verify")
	if code == exitOK || !strings.Contains(out, "is missing") || !strings.Contains(out, "has content with SHA-256") {
		t.Fatalf("fsck of a damaged bucket: %d\n%q", code, out)
	}
}

// hangar blobs migrate moves a live installation onto a bucket and back:
// every checksum kept, resumable (what is there is skipped), and the server
// serves every file after each switch.
func TestBlobsMigrate(t *testing.T) {
	s3, bucket := testBucket(t)
	data := filepath.Join(t.TempDir(), "data")
	local, remote := "[blobs]\nbackend = \"local\"\n"+bucket, "[blobs]\nbackend = \"s3\"\n"+bucket
	contents := map[string]string{}
	base, stderr, stop := startServeWith(t, data, local)
	admin := firstToken(t, stderr.String())
	apiCall(t, "POST", base+"/api/v1/workspace", admin, "", strings.NewReader(`{"slug":"acme"}`), nil)
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project", admin, "", strings.NewReader(`{"slug":"app"}`), nil)
	for i := range 5 {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile("file", "f.zip")
		content := strings.Repeat(fmt.Sprint(i), 100_000+i)
		io.WriteString(w, content)
		mw.Close()
		var out struct{ Files []struct{ FileID string } }
		apiCall(t, "POST", base+"/api/v1/workspace/acme/project/app/build", admin, mw.FormDataContentType(), &b, &out)
		contents[out.Files[0].FileID] = content
	}
	stop()
	cfgFile := func(blobs string) string {
		f := filepath.Join(t.TempDir(), "hangar.toml")
		os.WriteFile(f, []byte(fmt.Sprintf("data_dir = %q\n%s", data, blobs)), 0o600)
		return f
	}
	migrate := func(cfg, to string) string {
		t.Helper()
		var out bytes.Buffer
		if code := Run(context.Background(), []string{"blobs", "migrate", "-to", to, "-config", cfg}, nil, &out, &out); code != exitOK {
			t.Fatalf("migrate -to %s: exit %d\n%s", to, code, out.String())
		}
		return out.String()
	}
	serves := func(blobs string) {
		t.Helper()
		base, _, stop := startServeWith(t, data, blobs)
		defer stop()
		for id, want := range contents {
			if got := download(t, base, admin, id); string(got) != want {
				t.Fatalf("file %s after the switch: %d bytes", id, len(got))
			}
		}
	}
	// One blob already in the bucket, as a migration stopped half-way
	// leaves it: the next run skips it.
	st, _ := blob.Open(filepath.Join(data, "blobs"))
	first := ""
	st.Walk(func(ref blob.Ref, _ int64) error {
		if first == "" {
			first = ref.String()
			f, _ := st.Open(ref)
			defer f.Close()
			bs, _ := blob.OpenS3(context.Background(), blob.S3Options{Endpoint: s3.Endpoint, Bucket: s3.Bucket, PathStyle: true, Region: "us-east-1",
				AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
			bs.Put(context.Background(), f, 0, nil)
		}
		return nil
	})
	out := migrate(cfgFile(local), "s3")
	if !strings.Contains(out, "4 blobs copied to the bucket, 1 already there, 0 damaged") || !strings.Contains(out, `set backend = "s3"`) {
		t.Fatalf("migrate to s3:\n%s", out)
	}
	serves(remote)
	// And back, into an emptied directory.
	os.RemoveAll(filepath.Join(data, "blobs"))
	if out = migrate(cfgFile(remote), "local"); !strings.Contains(out, "5 blobs copied to the data directory, 0 already there") {
		t.Fatalf("migrate to local:\n%s", out)
	}
	serves(local)
}

// A backup with blobs in a bucket holds the database and says where the
// blobs are; restoring it checks them in the bucket, and refuses without
// a configuration that names it.
func TestS3BackupRestore(t *testing.T) {
	_, bucket := testBucket(t)
	blobs := onS3(bucket, "prefix = \"hangar/\"\n")
	data := filepath.Join(t.TempDir(), "data")
	base, stderr, stop := startServeWith(t, data, blobs)
	admin := firstToken(t, stderr.String())
	apiCall(t, "POST", base+"/api/v1/workspace", admin, "", strings.NewReader(`{"slug":"acme"}`), nil)
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project", admin, "", strings.NewReader(`{"slug":"app"}`), nil)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "a.zip")
	io.WriteString(w, "the bytes of a build")
	mw.Close()
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project/app/build", admin, mw.FormDataContentType(), &b, nil)
	stop()

	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\n%s", data, blobs)), 0o600)
	archive := filepath.Join(t.TempDir(), "backup.tar")
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Run(context.Background(), args, nil, &out, &out)
		return code, out.String()
	}
	if code, out := run("backup", "-o", archive, "-config", cfg); code != exitOK {
		t.Fatalf("backup: %d %s", code, out)
	}
	if code, out := run("restore", archive, "-data", filepath.Join(t.TempDir(), "nocfg")); code == exitOK || !strings.Contains(out, "restore it with -config") {
		t.Fatalf("restore without the bucket's configuration: %d %s", code, out)
	}
	code, out := run("restore", archive, "-data", filepath.Join(t.TempDir(), "restored"), "-config", cfg)
	if code != exitOK || !strings.Contains(out, "Its 1 blobs are in the S3 bucket builds, under hangar/ab/cd/<sha256>") ||
		!strings.Contains(out, "its 1 files' blobs are in the bucket, checked") {
		t.Fatalf("restore: %d %s", code, out)
	}
}

// testBucket starts versitygw, puts its keys in the environment Hangar
// reads them from, and returns it with the [blobs] keys naming its bucket
// (everything but backend).
func testBucket(t testing.TB) (hangartest.S3Server, string) {
	t.Helper()
	s3 := hangartest.Versitygw(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	return s3, fmt.Sprintf("endpoint = %q\nbucket = %q\npath_style = true\nsecure = false\n", s3.Endpoint, s3.Bucket)
}

// onS3 is a [blobs] section putting blobs in bucket, with more keys.
func onS3(bucket string, more ...string) string {
	return "[blobs]\nbackend = \"s3\"\n" + bucket + strings.Join(more, "")
}
