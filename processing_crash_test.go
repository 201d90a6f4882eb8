package main

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

// Builds queued for processing survive kill -9: the next start reads them.
func TestProcessingSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, "listen = \"127.0.0.1:0\"\ndata_dir = %q\nprocessing_workers = 1\n", data), 0o600)
	p := startBinary(t, bin, cfg)
	admin := regexp.MustCompile(`admin token: (hgr_\S+)`).FindStringSubmatch(p.stderr.String())[1]
	api := func(method, path, ctype string, body []byte, out any) {
		t.Helper()
		apiCall(t, method, p.base+path, admin, ctype, bytes.NewReader(body), out)
	}
	api("POST", "/api/v1/workspace", "application/json", []byte(`{"slug":"acme"}`), nil)
	api("POST", "/api/v1/workspace/acme/project", "application/json", []byte(`{"slug":"app"}`), nil)
	upload := func(name string, pkg []byte) string {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		w, _ := mw.CreateFormFile("file", name)
		w.Write(pkg)
		mw.Close()
		var b struct{ BuildID string }
		api("POST", "/api/v1/workspace/acme/project/app/build", mw.FormDataContentType(), body.Bytes(), &b)
		return b.BuildID
	}

	// Slow to read: 24 MiB of resources.arsc is inflated before the
	// manifest turns out to be junk. One worker takes a while over these.
	slow := pkgtest.Zip(pkgtest.Entry{Name: "AndroidManifest.xml", Data: []byte("junk")},
		pkgtest.Entry{Name: "resources.arsc", Data: make([]byte, 24<<20)})
	var ids []string
	for i := range 8 {
		ids = append(ids, upload(fmt.Sprintf("slow%d.apk", i), slow))
	}
	ids = append(ids, upload("Demo.ipa", pkgtest.IPA(pkgtest.DemoApp)))
	p.kill()

	st, err := store.Open(filepath.Join(data, "hangar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	queued, _ := st.ProcessingQueue()
	st.Close()
	if len(queued) == 0 {
		t.Fatal("nothing was left in_progress at the kill: the test proves nothing (make the slow packages slower)")
	}
	t.Logf("%d of %d builds in_progress at kill -9", len(queued), len(ids))

	p = startBinary(t, bin, cfg)
	defer p.kill()
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			var b struct{ Status, ProcessingError, BundleID string }
			api("GET", "/api/v1/workspace/acme/project/app/build/"+id, "", nil, &b)
			if b.Status == "in_progress" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			switch {
			case id == ids[len(ids)-1] && (b.Status != "processed" || b.BundleID != "com.example.demo"):
				t.Fatalf("the IPA after restart: %+v", b)
			case id != ids[len(ids)-1] && (b.Status != "error" || b.ProcessingError == ""):
				t.Fatalf("a junk APK after restart: %+v", b)
			}
			break
		}
	}
}
