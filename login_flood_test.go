package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// vmHWM is a process's peak resident memory in MiB, from /proc.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skip("no /proc here:", err)
	}
	var kib int
	fmt.Sscan(string(regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)[1]), &kib)
	return kib >> 10
}

// A flood of logins with invented usernames from many addresses runs at
// most two 64 MiB password hashes at a time, and the server's memory stays
// at that: 2 × 64 MiB plus its own (it was 412 MB for 800 such logins).
func TestLoginFloodMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, "listen = \"127.0.0.1:0\"\ndata_dir = %q\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
		filepath.Join(t.TempDir(), "data")), 0o600)
	p := startBinary(t, bin, cfg)
	defer p.kill()
	var wg sync.WaitGroup
	codes := make(chan int, 24)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest("POST", p.base+"/api/v1/auth/login", strings.NewReader(fmt.Sprintf(`{"username":"nobody%d","password":"guess"}`, i)))
			r.Header.Set("X-Forwarded-For", fmt.Sprintf("10.9.%d.1", i%8))
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	n := 0
	for c := range codes {
		if c == 401 {
			n++
		}
	}
	peak := vmHWM(t, p.cmd.Process.Pid)
	t.Logf("%d logins hashed and refused; server peak RSS %d MiB", n, peak)
	if n < 20 {
		t.Fatalf("only %d of 24 logins were hashed: the test proves little", n)
	}
	if peak > 180 {
		t.Fatalf("peak RSS %d MiB after a login flood, want under 180 (2 × 64 MiB hashes and the server)", peak)
	}
}
