package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hangar/hangartest"
	"hangar/store"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"bogus"}, exitUsage, "", `unknown command "bogus"`},
		{[]string{"version"}, exitOK, "hangar dev (", ""},
		{[]string{"help"}, exitOK, "hangar serve", ""},
		{[]string{"serve", "-nope"}, exitUsage, "", "flag provided but not defined"},
		{[]string{"serve", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{[]string{"serve", "-config", "/nonexistent/hangar.toml"}, exitFailure, "", "/nonexistent/hangar.toml"},
		{[]string{"serve", "-listen", "8080"}, exitUsage, "", `-listen "8080": address 8080: missing port in address`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("got stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestBadConfigIsOneLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(path, []byte("signed_url_ttl = \"forever\"\n"), 0o600)
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"serve", "-config", path}, nil, io.Discard, &stderr); code != exitFailure {
		t.Fatalf("exit code: got %d, want %d", code, exitFailure)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, path) || !strings.Contains(msg, "signed_url_ttl") {
		t.Fatalf("got %q, want one line naming the file and the key", msg)
	}
}

// startServe runs `hangar serve` in-process on a free port and returns its
// base URL, its stderr, and a stop function that returns the exit code.
// damaging names the tests that damage their data directory on purpose:
// startServe's consistency check skips them.
var damaging sync.Map

func expectDamage(t *testing.T) { damaging.Store(t.Name(), true) }

func startServe(t *testing.T, dataDir string) (string, *hangartest.SyncBuffer, func() int) {
	t.Helper()
	return startServeWith(t, dataDir, "")
}

// startServeWith is startServe with more configuration (a [blobs] section).
func startServeWith(t *testing.T, dataDir, extra string) (string, *hangartest.SyncBuffer, func() int) {
	t.Helper()
	return startServeWithB(t, dataDir, extra)
}

// startServeWithB is startServeWith for tests and benchmarks.
func startServeWithB(t testing.TB, dataDir, extra string) (string, *hangartest.SyncBuffer, func() int) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n%s", dataDir, extra)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &hangartest.SyncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"serve", "-config", cfg}, nil, io.Discard, stderr) }()
	// After the test (which stops the server): the data directory must be
	// consistent, whatever the test did through the server.
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dataDir, "hangar.db")); err != nil {
			return // the test moved it away on purpose
		}
		if _, ok := damaging.Load(t.Name()); ok {
			return
		}
		var out bytes.Buffer
		if code := Run(context.Background(), []string{"fsck", "-verify", "-config", cfg}, nil, &out, &out); code != exitOK {
			t.Errorf("fsck -verify after the test: exit %d\n%s", code, out.String())
		}
	})

	addr := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			stop := func() int {
				cancel()
				select {
				case code := <-done:
					return code
				case <-time.After(10 * time.Second):
					t.Fatal("server did not stop")
					return -1
				}
			}
			return "http://" + m[1], stderr, stop
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstCredentials reads the first start's credentials from the file
// whose path the server printed: the admin token and the console password.
//
// root, if given, is where the server's file system is seen from here (a
// server in a mount namespace of its own: /proc/PID/root).
func firstCredentials(t testing.TB, stderr string, root ...string) (token, password string) {
	t.Helper()
	m := regexp.MustCompile(`password are in (\S+) \(readable`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no credentials file named on first start: %s", stderr)
	}
	body, err := os.ReadFile(strings.Join(root, "") + m[1])
	if err != nil {
		t.Fatal(err)
	}
	tok := regexp.MustCompile(`(?m)^admin token: (hgr_\S+)$`).FindSubmatch(body)
	pw := regexp.MustCompile(`(?m)^console sign-in: user admin, password (\S+)$`).FindSubmatch(body)
	if tok == nil || pw == nil {
		t.Fatalf("the credentials file: %s", body)
	}
	return string(tok[1]), string(pw[1])
}

// firstToken is firstCredentials' token.
func firstToken(t testing.TB, stderr string, root ...string) string {
	t.Helper()
	tok, _ := firstCredentials(t, stderr, root...)
	return tok
}

func TestServeLifecycle(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	base, stderr, stop := startServe(t, data)

	// The first start's credentials are in a file only this user reads,
	// and not in the log.
	token, password := firstCredentials(t, stderr.String())
	if strings.Contains(stderr.String(), token) || strings.Contains(stderr.String(), password) {
		t.Fatalf("the first start logged its credentials: %s", stderr.String())
	}
	if fi, err := os.Stat(filepath.Join(data, "initial-admin-credentials")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the credentials file: %v %v", fi, err)
	}

	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	// The first start's console password signs in.
	signin, _ := http.NewRequest("POST", base+"/signin", strings.NewReader(url.Values{"username": {"admin"}, "password": {password}}.Encode()))
	signin.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signin.Header.Set("Sec-Fetch-Site", "same-origin")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Do(signin); err != nil || resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("console sign-in with the first-start password: %v %v", resp, err)
	}

	// A second server on the same data directory fails fast and says why.
	start := time.Now()
	var second bytes.Buffer
	cfg := filepath.Join(t.TempDir(), "second.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n", data)), 0o600)
	code := Run(context.Background(), []string{"serve", "-config", cfg}, nil, io.Discard, &second)
	if code != exitFailure || !strings.Contains(second.String(), "in use by another process") {
		t.Fatalf("second serve: exit %d, stderr %q", code, second.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second serve took %v to fail", d)
	}

	// Use the token once; its last use is recorded at shutdown (not one
	// write per request).
	r, _ := http.NewRequest("GET", base+"/api/v1/workspace", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin token: %v %v", resp, err)
	}
	// A new password for admin: the file with the first one goes.
	pwReq, _ := http.NewRequest("PUT", base+"/api/v1/user/admin/password", strings.NewReader(`{"password":"a-new-admin-password"}`))
	pwReq.Header.Set("Authorization", "Bearer "+token)
	pwReq.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(pwReq); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("admin's new password: %v %v", resp, err)
	}
	if _, err := os.Stat(filepath.Join(data, "initial-admin-credentials")); !os.IsNotExist(err) {
		t.Errorf("the first credentials outlived admin's new password: %v", err)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("graceful stop: exit %d, stderr %s", code, stderr.String())
	}
	st, err := store.Open(filepath.Join(data, "hangar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := st.AllTokens()
	st.Close()
	tokens = slices.DeleteFunc(tokens, func(t store.Token) bool { return t.Kind != store.TokenServiceAccount })
	if len(tokens) != 1 || tokens[0].LastUsedAt.IsZero() {
		t.Fatalf("last use not recorded at shutdown: %+v", tokens)
	}
	if db, err := os.ReadFile(filepath.Join(data, "hangar.db")); err != nil || bytes.Contains(db, []byte(token)) {
		t.Fatalf("database missing or holding the plain admin token (err %v)", err)
	}

	// A restart keeps the data and makes no new credentials.
	base, stderr, stop = startServe(t, data)
	if strings.Contains(stderr.String(), "First start") {
		t.Fatal("first-start credentials made again on restart")
	}
	resp, err = http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz after restart: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := stop(); code != exitOK {
		t.Fatalf("stop: exit %d", code)
	}
}

// Under systemd (Type=notify) the server says READY=1 once it listens and
// STOPPING=1 when it shuts down.
func TestServeNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	_, _, stop := startServe(t, filepath.Join(t.TempDir(), "data"))
	read := func() string {
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if got := read(); !strings.HasPrefix(got, "READY=1\nSTATUS=serving on 127.0.0.1:") {
		t.Fatalf("first notification: %q", got)
	}
	stop()
	if got := read(); got != "STOPPING=1" {
		t.Fatalf("on stop: %q", got)
	}
}

// -listen, then HANGAR_LISTEN, override the config's listen: serving the
// LAN needs no config file.
func TestServeListenOverride(t *testing.T) {
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "hangar.toml")
			// A listen address that cannot work: only the override makes it start.
			os.WriteFile(cfg, fmt.Appendf(nil, "listen = \"192.0.2.1:1\"\ndata_dir = %q\n", filepath.Join(t.TempDir(), "data")), 0o600)
			args := []string{"serve", "-config", cfg}
			if how == "flag" {
				t.Setenv("HANGAR_LISTEN", "192.0.2.1:2") // the flag wins over it
				args = append(args, "-listen", "127.0.0.1:0")
			} else {
				t.Setenv("HANGAR_LISTEN", "127.0.0.1:0")
			}
			ctx, cancel := context.WithCancel(context.Background())
			stderr := &hangartest.SyncBuffer{}
			done := make(chan int, 1)
			go func() { done <- Run(ctx, args, nil, io.Discard, stderr) }()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(stderr.String(), "addr=127.0.0.1:") {
				select {
				case code := <-done:
					t.Fatalf("serve exited with %d: %s", code, stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("did not listen on the override: %s", stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if code := <-done; code != exitOK {
				t.Fatalf("exit %d", code)
			}
		})
	}
}

// HANGAR_PUBLIC_URL sets public_url: a container learns the host's
// address only from its environment, and testers' links must name it.
func TestServePublicURLFromEnvironment(t *testing.T) {
	t.Setenv("HANGAR_PUBLIC_URL", "http://192.0.2.7:8080/") // only named in URLs, never dialed
	base, admin, buildID, stop := servedBuild(t, filepath.Join(t.TempDir(), "data"))
	defer stop()
	var l struct{ InstallURL string }
	fileID := uploadRaw(t, base, admin, buildID, "a.zip", []byte("zip"))
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project/app/build/files/"+fileID+"/public-link", admin, "", strings.NewReader(`{}`), &l)
	if !strings.HasPrefix(l.InstallURL, "http://192.0.2.7:8080/p/") {
		t.Fatalf("installUrl %q does not name HANGAR_PUBLIC_URL", l.InstallURL)
	}
	t.Setenv("HANGAR_PUBLIC_URL", "ftp://nope")
	if code, _, errOut := hangarCmd(t, "serve", "-listen", "127.0.0.1:0"); code != exitUsage || !strings.Contains(errOut, "HANGAR_PUBLIC_URL") {
		t.Fatalf("a bad HANGAR_PUBLIC_URL: exit %d %s", code, errOut)
	}
}
