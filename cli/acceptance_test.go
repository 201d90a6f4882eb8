package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hangar/hangartest"
	"hangar/pkginfo/pkgtest"

	"github.com/minio/minio-go/v7"
)

// referenceDownloadScript is Applivery's "Complete example: Download an attached
// file" (Applivery's API reference, docs/apis.md), as published, with placeholders for the hosts and ids.
const referenceDownloadScript = `# Step 1: Generate the download token for the attached file
TOKEN=$(curl -s \
'https://api.applivery.io/v1/organizations/ORG_ID/apps/APP_ID/builds/BUILD_ID/downloadToken?fileId=FILE_ID&type=auto' \
-H 'Authorization: Bearer YOUR_SERVICE_ACCOUNT_TOKEN' \
| jq -r '.data.token')
# Step 2: Download the file, following the redirect
curl -L \
"https://download-api.applivery.io/v1/download/$TOKEN" \
-o downloaded_file
`

// apiCall sends a request with the bearer token and decodes the JSON answer.
func apiCall(t *testing.T, method, url, token, ctype string, body io.Reader, out any) {
	t.Helper()
	resp, b := hangartest.Do(t, method, url, token, ctype, body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s", method, url, b)
		}
	}
}

func TestReferenceDownloadScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing; .ci/run installs it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	t.Run("local", func(t *testing.T) { runReferenceDownloadScript(t, "") })
	// The same on an S3 bucket: the last redirect is the store's
	// presigned URL, and a public link's limit holds as on the directory.
	t.Run("s3", func(t *testing.T) {
		s3, bucket := testBucket(t)
		runReferenceDownloadScript(t, onS3(bucket))
		// The package, its icon and the attachment are objects in the
		// bucket.
		n := 0
		for oi := range s3.Client.ListObjectsIter(context.Background(), s3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			if oi.Err == nil && !strings.Contains(oi.Key, "tmp/") {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d objects in the bucket, want 3", n)
		}
	})
}

func runReferenceDownloadScript(t *testing.T, blobs string) {
	base, stderr, stop := startServeWith(t, filepath.Join(t.TempDir(), "data"), blobs)
	defer stop()
	admin := firstToken(t, stderr.String())

	apiCall(t, "POST", base+"/api/v1/workspace", admin, "", strings.NewReader(`{"slug":"acme"}`), nil)
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project", admin, "", strings.NewReader(`{"slug":"ios-app"}`), nil)
	var sa struct{ Token string }
	apiCall(t, "POST", base+"/api/v1/workspace/acme/service-account", admin, "", strings.NewReader(`{"name":"ci","role":"developer"}`), &sa)

	upload := func(path, field, name string, content []byte) (out struct {
		Data struct {
			ID    string
			Files []struct {
				ID   string
				Type string
			}
		}
	}) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile(field, name)
		w.Write(content)
		mw.Close()
		apiCall(t, "POST", base+path, sa.Token, mw.FormDataContentType(), &b, &out)
		return out
	}
	build := upload("/v1/organizations/acme/apps/ios-app/builds", "build", "App.ipa", pkgtest.IPA(pkgtest.DemoApp))
	// Attachments need a processed build (5014 before): wait as a CI
	// script would, polling Build Details.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var details struct{ Data struct{ Status string } }
		apiCall(t, "GET", base+"/v1/organizations/acme/apps/ios-app/builds/"+build.Data.ID, sa.Token, "", nil, &details)
		if details.Data.Status == "processed" {
			break
		}
		if details.Data.Status != "in_progress" || time.Now().After(deadline) {
			t.Fatalf("build status %q", details.Data.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	attachment := make([]byte, 3<<20)
	rand.Read(attachment)
	withFile := upload("/v1/organizations/acme/apps/ios-app/builds/"+build.Data.ID+"/files", "file", "screenshot.png", attachment)
	last := withFile.Data.Files[len(withFile.Data.Files)-1] // after the package and its icon
	fileID := last.ID
	if last.Type != "attachment" || len(withFile.Data.Files) != 3 {
		t.Fatalf("files: %+v", withFile.Data.Files)
	}

	script := strings.NewReplacer(
		"https://api.applivery.io", base,
		"https://download-api.applivery.io", base,
		"ORG_ID", "acme", "APP_ID", "ios-app", "BUILD_ID", build.Data.ID, "FILE_ID", fileID,
		"YOUR_SERVICE_ACCOUNT_TOKEN", sa.Token,
	).Replace(referenceDownloadScript)
	dir := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Applivery's script failed: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "downloaded_file"))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(attachment) {
		t.Fatalf("downloaded_file (%d bytes) differs from the attachment (%d bytes)", len(got), len(attachment))
	}

	// A public link limited to one download: the bytes once, then 403.
	var link struct{ PublicURL string }
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project/ios-app/build/files/"+fileID+"/public-link", sa.Token, "",
		strings.NewReader(`{"downloadLimit": 1}`), &link)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var hops []string
	next := link.PublicURL
	for range 3 {
		resp, err := noFollow.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			if resp.StatusCode != 200 || sha256.Sum256(body) != sha256.Sum256(attachment) {
				t.Fatalf("public link download ended with %d (%d bytes) after %v", resp.StatusCode, len(body), hops)
			}
			break
		}
		next = resp.Header.Get("Location")
		hops = append(hops, next)
	}
	onS3 := strings.Contains(blobs, "s3")
	if onS3 && (len(hops) != 2 || strings.HasPrefix(hops[1], base) || !strings.Contains(hops[1], "X-Amz-Signature")) {
		t.Fatalf("on S3 the bytes come from a presigned URL of the store: %v", hops)
	}
	if !onS3 && len(hops) != 1 {
		t.Fatalf("redirects: %v", hops)
	}
	resp, err := noFollow.Get(link.PublicURL)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("second download through a one-download link: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}
