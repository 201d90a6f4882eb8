package cli

import (
	"fmt"
	"hangar/hangartest"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A flood of logins with invented usernames from many addresses runs at
// most two 64 MiB password hashes at a time, and the server's memory stays
// bounded whatever the flood's size: before, 24 such logins peaked at
// 271 MiB and 800 at 412 MB, growing with the collector's lag. (A manual
// flood of 96 through curl peaked at 149 MiB.) Invented usernames wait in
// the hasher's bounded Normal lane: of a burst, 2 hash at once and 16
// wait; the rest are refused at once (429) without hashing.
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
	busy := 0
	flood := func(from, n int) int {
		var wg sync.WaitGroup
		codes := make(chan int, n)
		for i := from; i < from+n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _ := http.NewRequest("POST", p.base+"/api/v1/auth/login", strings.NewReader(fmt.Sprintf(`{"username":"nobody%d","password":"guess"}`, i)))
				r.Header.Set("X-Forwarded-For", fmt.Sprintf("10.9.%d.1", i%32))
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
		hashed := 0
		for c := range codes {
			switch c {
			case 401:
				hashed++
			case 429:
				busy++
			default:
				t.Errorf("a login answered %d", c)
			}
		}
		return hashed
	}
	n := flood(0, 24)
	first := hangartest.PeakRSS(t, p.cmd.Process.Pid)
	n += flood(24, 24)
	peak := hangartest.PeakRSS(t, p.cmd.Process.Pid)
	t.Logf("%d logins hashed and refused, %d refused as busy; server peak RSS %d MiB after 24, %d MiB after 48", n, busy, first, peak)
	if n < 36 || n+busy != 48 {
		t.Fatalf("%d of 48 logins were hashed, %d refused as busy: want at least 36 (2 running and 16 waiting a burst), the rest busy", n, busy)
	}
	// Two hashes at a time, a third block while a freed one is reused, and
	// the server itself (~15 MiB).
	if peak > 240 {
		t.Fatalf("peak RSS %d MiB after 48 logins (%d after 24): want at most 240", peak, first)
	}
}
