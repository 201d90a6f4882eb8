package cli

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// uploadRaw stores content as a new file of a build and returns its id.
func uploadRaw(t *testing.T, base, token, buildID, name string, content []byte) string {
	t.Helper()
	r, _ := http.NewRequest("POST", base+"/api/v1/workspace/acme/project/app/build/"+buildID+"/file?name="+name, bytes.NewReader(content))
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var files []struct{ FileID string }
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 201 || json.Unmarshal(b, &files) != nil {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	return files[0].FileID
}

// download fetches a file through its signed URL.
func download(t *testing.T, base, token, fileID string) []byte {
	t.Helper()
	r, _ := http.NewRequest("GET", base+"/api/v1/workspace/acme/project/app/build/file/"+fileID, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download URL of %s: %d %s", fileID, resp.StatusCode, signed)
	}
	resp, err = http.Get(string(signed))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("download %s: %d", fileID, resp.StatusCode)
	}
	return b
}

func hangarCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(t.Context(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// servedBuild starts hangar serve on data and makes workspace acme, project
// app and an empty build; it returns the base URL, the admin token, the
// build's id and the stop function.
func servedBuild(t *testing.T, data string) (base, admin, buildID string, stop func() int) {
	t.Helper()
	base, stderr, stop := startServe(t, data)
	admin = firstToken(t, stderr.String())
	apiCall(t, "POST", base+"/api/v1/workspace", admin, "", strings.NewReader(`{"slug":"acme"}`), nil)
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project", admin, "", strings.NewReader(`{"slug":"app"}`), nil)
	var b struct{ BuildID string }
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project/app/build", admin, "", strings.NewReader(`{}`), &b)
	return base, admin, b.BuildID, stop
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := writeDataConfig(t, data)
	base, admin, buildID, stop := servedBuild(t, data)
	contents := map[string][]byte{}
	for i, n := range []int{3 << 20, 1000, 0} {
		c := make([]byte, n)
		rand.Read(c)
		contents[uploadRaw(t, base, admin, buildID, "f"+string(rune('a'+i))+".bin", c)] = c
	}

	// Online: the server holds the database, so the command uses its API.
	t.Setenv("HANGAR_TOKEN", admin)
	tarFile := filepath.Join(t.TempDir(), "backup.tar")
	if code, _, errOut := hangarCmd(t, "backup", "-config", cfg, "-url", base, "-o", tarFile); code != exitOK {
		t.Fatalf("online backup: exit %d: %s", code, errOut)
	}
	// Online fsck and gc go through the API too.
	if code, out, errOut := hangarCmd(t, "fsck", "-config", cfg, "-url", base, "-verify"); code != exitOK || !strings.Contains(out, "3 files, 3 blobs: 0 problems") {
		t.Fatalf("online fsck: exit %d: %s %s", code, out, errOut)
	}
	if code, out, errOut := hangarCmd(t, "gc", "-config", cfg, "-url", base); code != exitOK || !strings.HasPrefix(out, "removed ") {
		t.Fatalf("online gc: exit %d: %s %s", code, out, errOut)
	}
	t.Setenv("HANGAR_TOKEN", "")
	if code, _, errOut := hangarCmd(t, "fsck", "-config", cfg, "-url", base); code != exitFailure || !strings.Contains(errOut, "HANGAR_TOKEN") {
		t.Fatalf("online fsck without a token: exit %d: %s", code, errOut)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("stop: %d", code)
	}

	// Restore refuses a directory that has data, then fills a new one.
	if code, _, errOut := hangarCmd(t, "restore", tarFile, "-data", data); code != exitFailure || !strings.Contains(errOut, "not empty") {
		t.Fatalf("restore over existing data: exit %d: %s", code, errOut)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	code, out, errOut := hangarCmd(t, "restore", tarFile, "-data", restored)
	if code != exitOK || !strings.Contains(out, "restored 3 blobs") {
		t.Fatalf("restore: exit %d: %s %s", code, out, errOut)
	}

	// The restored directory serves the same files; the old token works.
	base, _, stop = startServe(t, restored)
	defer stop()
	for id, want := range contents {
		if got := download(t, base, admin, id); sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("file %s differs after restore (%d bytes, want %d)", id, len(got), len(want))
		}
	}
}

func TestOfflineBackupAndDamagedRestore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := writeDataConfig(t, data)
	base, admin, buildID, stop := servedBuild(t, data)
	uploadRaw(t, base, admin, buildID, "a.bin", []byte("original content"))
	stop()

	// Offline: no server, no token needed.
	tarFile := filepath.Join(t.TempDir(), "backup.tar")
	if code, _, errOut := hangarCmd(t, "backup", "-config", cfg, "-o", tarFile); code != exitOK {
		t.Fatalf("offline backup: exit %d: %s", code, errOut)
	}
	// Damage the blob inside the tar (same length, other bytes).
	raw, _ := os.ReadFile(tarFile)
	damaged := bytes.Replace(raw, []byte("original content"), []byte("tampered content"), 1)
	if bytes.Equal(raw, damaged) {
		t.Fatal("blob content not found in the tar")
	}
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, damaged, 0o600)
	code, out, _ := hangarCmd(t, "restore", bad, "-data", filepath.Join(t.TempDir(), "r"))
	if code != exitFailure || !strings.Contains(out, "does not match its SHA-256") || !strings.Contains(out, "is missing") {
		t.Fatalf("damaged restore: exit %d: %s", code, out)
	}

	// A backup that fails (a blob vanished from disk) leaves neither the
	// file nor its .partial: nothing that looks like a backup.
	expectDamage(t)
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) == 64 {
			os.Remove(p)
		}
		return nil
	})
	failed := filepath.Join(t.TempDir(), "failed.tar")
	if code, _, errOut := hangarCmd(t, "backup", "-config", cfg, "-o", failed); code != exitFailure || !strings.Contains(errOut, "not found") {
		t.Fatalf("backup with a missing blob: exit %d: %s", code, errOut)
	}
	for _, f := range []string{failed, failed + ".partial"} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("a failed backup left %s", f)
		}
	}

	// A tar that tries to write outside the blob tree is refused.
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	tw.WriteHeader(&tar.Header{Name: "../../etc/cron.d/x", Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	evilFile := filepath.Join(t.TempDir(), "evil.tar")
	os.WriteFile(evilFile, evil.Bytes(), 0o600)
	if code, _, errOut := hangarCmd(t, "restore", evilFile, "-data", filepath.Join(t.TempDir(), "e")); code != exitFailure || !strings.Contains(errOut, "neither the database nor a blob") {
		t.Fatalf("evil tar: exit %d: %s", code, errOut)
	}
}
