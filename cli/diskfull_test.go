package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiskFull runs the binary with its data directory on a 3 MiB tmpfs,
// mounted in a mount namespace of its own (root only), and fills it: the
// upload that does not fit gets 507 and leaves nothing behind, and the
// server goes on working.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare is not installed")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o750)
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n", data)), 0o600)
	cmd := exec.Command("unshare", "-m", "sh", "-c", `mount -t tmpfs -o size=3m tmpfs "$1" && exec "$2" serve -config "$3"`, "sh", data, bin, cfg)
	p := startCommand(t, cmd)
	defer p.kill()
	// The data directory is a tmpfs in the server's mount namespace: its
	// credentials file is seen through the process's root.
	admin := firstToken(t, p.stderr.String(), fmt.Sprintf("/proc/%d/root", p.cmd.Process.Pid))

	call := func(method, path, ctype string, body []byte) (int, []byte) {
		r, _ := http.NewRequest(method, p.base+path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+admin)
		r.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	call("POST", "/api/v1/workspace", "application/json", []byte(`{"slug":"acme"}`))
	call("POST", "/api/v1/workspace/acme/project", "application/json", []byte(`{"slug":"app"}`))
	var b struct{ BuildID string }
	_, out := call("POST", "/api/v1/workspace/acme/project/app/build", "application/json", []byte(`{}`))
	json.Unmarshal(out, &b)
	upload := func(n int) (int, []byte) {
		content := make([]byte, n)
		rand.Read(content)
		return call("POST", "/api/v1/workspace/acme/project/app/build/"+b.BuildID+"/file?name=f.bin", "application/octet-stream", content)
	}

	if code, out := upload(1 << 20); code != 201 {
		t.Fatalf("1 MiB upload on a 3 MiB disk: %d %s", code, out)
	}
	code, out := upload(5 << 20)
	if code != 507 || !strings.Contains(string(out), "INSUFFICIENT_STORAGE") {
		t.Fatalf("5 MiB upload on a full disk: got %d %s, want 507 INSUFFICIENT_STORAGE", code, out)
	}
	// Nothing of it stayed: no file, no temp file (seen through the
	// process's own mount namespace), storage unchanged.
	_, out = call("GET", "/api/v1/workspace/acme/project/app/build/"+b.BuildID+"/file", "", nil)
	var files []struct{ Size int64 }
	json.Unmarshal(out, &files)
	tmp, err := os.ReadDir(fmt.Sprintf("/proc/%d/root%s/blobs/tmp", p.cmd.Process.Pid, data))
	if len(files) != 1 || err != nil || len(tmp) != 0 {
		t.Fatalf("after the failed upload: %d files (want 1), temp dir %v %d entries", len(files), err, len(tmp))
	}
	// The space came back: a smaller upload fits again.
	if code, out := upload(512 << 10); code != 201 {
		t.Fatalf("upload after a full disk: %d %s", code, out)
	}
	ready := func() int {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != 200 {
		t.Fatalf("/readyz with room on the disk: %d", code)
	}

	// 100% full (a filler file takes what is left): metadata writes answer
	// 507 like uploads, and the server is not ready.
	filler, err := os.Create(fmt.Sprintf("/proc/%d/root%s/filler", p.cmd.Process.Pid, data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := filler.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	filler.Close()
	if code := ready(); code != 503 {
		t.Fatalf("/readyz on a full disk: %d, want 503", code)
	}
	var failed int
	var failure []byte
	for i := range 200 {
		name := strings.Repeat("a long workspace name ", 8)
		code, out := call("POST", "/api/v1/workspace", "application/json", fmt.Appendf(nil, `{"slug":"ws%d","name":%q}`, i, name))
		if code != 201 {
			failed, failure = code, out
			break
		}
	}
	if failed != 507 || !strings.Contains(string(failure), "INSUFFICIENT_STORAGE") {
		t.Fatalf("a metadata write on a full disk: %d %s, want 507 INSUFFICIENT_STORAGE", failed, failure)
	}
	os.Remove(filler.Name())
	if code := ready(); code != 200 {
		t.Fatalf("/readyz once space is back: %d", code)
	}
}
