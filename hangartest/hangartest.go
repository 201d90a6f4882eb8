// Package hangartest holds what the tests of several packages share: one
// HTTP request helper, a buffer a server can log into while the test reads
// it, and the peak memory of a process. It is imported by tests only.
package hangartest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hangar/store"
)

// Do sends one request and returns the response with its body read. token
// (if not empty) goes in a bearer Authorization header, ctype (if not
// empty) in Content-Type, and header holds more name, value pairs. A
// request that cannot be sent fails t.
func Do(t testing.TB, method, url, token, ctype string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// WantCode fails t unless resp has status want.
func WantCode(t testing.TB, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// SyncBuffer is a bytes.Buffer safe for one writer (a server's log) and
// readers (the test) at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

// PeakRSS is a process's peak resident memory in MiB, from /proc; the
// test is skipped where there is no /proc.
func PeakRSS(t testing.TB, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skip("no /proc here:", err)
	}
	var kib int
	fmt.Sscan(string(vmHWM.FindSubmatch(status)[1]), &kib)
	return kib >> 10
}

// WaitProcessed waits up to 10 s for the processing workers to finish a
// build (any status but pending and in_progress) and returns it.
func WaitProcessed(t testing.TB, st *store.Store, id string) store.Build {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := st.Build(id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != store.BuildInProgress && b.Status != store.BuildPending {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %s still %s after 10 s", id, b.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Midway yields R in reads of at most 64 KiB and calls At once, when Half
// of its bytes have been read, so that a test can look at a store in the
// middle of an upload. Fired says whether it did.
type Midway struct {
	R     io.Reader
	Half  int
	At    func()
	Fired bool
	n     int
}

func (m *Midway) Read(p []byte) (int, error) {
	n, err := m.R.Read(p[:min(len(p), 64<<10)])
	if m.n += n; m.n >= m.Half && !m.Fired {
		m.Fired = true
		m.At()
	}
	return n, err
}

// Clock is a test's clock: it stands still until the test moves it, and is
// safe to read from the server's goroutines.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Respell returns another spelling of unpadded base64url text that a
// lenient decoder reads as the same bytes (a padding bit of its last
// character set), and false when the text has no padding bits to set.
func Respell(text string) (string, bool) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(text)%4 == 0 || len(text)%4 == 1 {
		return "", false
	}
	last := strings.IndexByte(alphabet, text[len(text)-1])
	if last < 0 {
		return "", false
	}
	return text[:len(text)-1] + string(alphabet[last^1]), true
}
