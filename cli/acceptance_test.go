package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/hangartest"
	"hangar/pkginfo/pkgtest"
)

// seedDownloadScript is the seed's "Complete example: Download an attached
// file" (seed 000), as published, with placeholders for the hosts and ids.
const seedDownloadScript = `# Step 1: Generate the download token for the attached file
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

func TestSeedDownloadScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing; .ci/run installs it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	base, stderr, stop := startServe(t, filepath.Join(t.TempDir(), "data"))
	defer stop()
	admin := regexp.MustCompile(`admin token: (hgr_\S+)`).FindStringSubmatch(stderr.String())[1]

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
	).Replace(seedDownloadScript)
	dir := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the seed's script failed: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "downloaded_file"))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(attachment) {
		t.Fatalf("downloaded_file (%d bytes) differs from the attachment (%d bytes)", len(got), len(attachment))
	}
}
