package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hangar runs one command line against the data directory of cfg.
func hangar(t *testing.T, cfg, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{args[0], args[1], "-config", cfg}, args[2:]...)
	code := Run(context.Background(), full, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeDataConfig(t *testing.T, data string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n", data)), 0o600)
	return cfg
}

func TestUserAndTokenCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := writeDataConfig(t, data)

	if code, _, errOut := hangar(t, cfg, "alice-password\n", "user", "add", "-password-stdin", "alice"); code != exitOK {
		t.Fatalf("user add: exit %d: %s", code, errOut)
	}
	if code, _, errOut := hangar(t, cfg, "short\n", "user", "add", "-password-stdin", "bob"); code != exitFailure || !strings.Contains(errOut, "password must be") {
		t.Fatalf("weak password: exit %d: %s", code, errOut)
	}
	if code, _, _ := hangar(t, cfg, "", "user", "add", "-password-stdin", "alice"); code != exitFailure {
		t.Fatalf("duplicate user: exit %d, want %d", code, exitFailure)
	}
	code, out, _ := hangar(t, cfg, "", "user", "passwd", "alice")
	if code != exitOK || !strings.HasPrefix(out, "password: ") {
		t.Fatalf("user passwd: exit %d: %s", code, out)
	}
	newPassword := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(out, "password: "), "\n", 2)[0])
	if code, out, _ := hangar(t, cfg, "", "user", "list"); code != exitOK || !strings.Contains(out, "alice") {
		t.Fatalf("user list: exit %d: %s", code, out)
	}

	code, out, errOut := hangar(t, cfg, "", "token", "create", "-name", "deploy", "-admin")
	token := strings.TrimSpace(out)
	if code != exitOK || !strings.HasPrefix(token, "hgr_") {
		t.Fatalf("token create: exit %d: %q %s", code, out, errOut)
	}
	prefix := token[4:12]
	if code, out, _ := hangar(t, cfg, "", "token", "list"); code != exitOK || !strings.Contains(out, prefix) || strings.Contains(out, token) {
		t.Fatalf("token list: exit %d, want the prefix and not the token: %s", code, out)
	}
	for _, bad := range [][]string{
		{"token", "create"},
		{"token", "create", "-name", "x"},
		{"token", "create", "-name", "x", "-admin", "-workspace", "w", "-role", "ci"},
		{"token", "create", "-name", "x", "-workspace", "w", "-role", "owner"},
		{"token", "revoke"},
		{"user", "add"},
		{"user", "frobnicate"},
	} {
		if code, _, _ := hangar(t, cfg, "", bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}

	// What the commands wrote works against the server.
	base, _, stop := startServe(t, data)
	r, _ := http.NewRequest("GET", base+"/api/v1/workspace", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CLI token against the server: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":"alice","password":%q}`, newPassword)))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login with the CLI's password: %v %v", resp, err)
	}
	resp.Body.Close()

	// While the server holds the database the commands refuse, fast and
	// clearly, and point at the API.
	start := time.Now()
	code, _, errOut = hangar(t, cfg, "", "user", "list")
	if code != exitFailure || !strings.Contains(errOut, "in use by a running hangar server") || !strings.Contains(errOut, "API") {
		t.Fatalf("user list while serving: exit %d: %s", code, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to refuse", d)
	}

	// Offboarding works through the running server: a disabled user's
	// sign-in is refused like a wrong password, an enabled one's works.
	login := func() int {
		resp, err := http.Post(base+"/api/v1/auth/login", "application/json",
			strings.NewReader(fmt.Sprintf(`{"username":"alice","password":%q}`, newPassword)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code, out, errOut := hangar(t, cfg, "", "user", "disable", "-token", token, "-url", base, "alice"); code != exitOK || !strings.Contains(out, "disabled alice") {
		t.Fatalf("user disable through the server: exit %d: %s %s", code, out, errOut)
	}
	if got := login(); got != http.StatusUnauthorized {
		t.Fatalf("a disabled user's login: %d, want 401", got)
	}
	if code, _, errOut := hangar(t, cfg, "", "user", "enable", "-token", token, "-url", base, "alice"); code != exitOK {
		t.Fatalf("user enable through the server: exit %d: %s", code, errOut)
	}
	if got := login(); got != http.StatusOK {
		t.Fatalf("an enabled user's login: %d, want 200", got)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("stop: exit %d", code)
	}
	// And on the data directory while stopped.
	if code, _, errOut := hangar(t, cfg, "", "user", "disable", "alice"); code != exitOK {
		t.Fatalf("user disable: exit %d: %s", code, errOut)
	}
	if code, out, errOut := hangar(t, cfg, "", "user", "delete", "alice"); code != exitOK || !strings.Contains(out, "deleted alice") {
		t.Fatalf("user delete: exit %d: %s %s", code, out, errOut)
	}
	if code, out, _ := hangar(t, cfg, "", "user", "list"); code != exitOK || strings.Contains(out, "alice") {
		t.Fatalf("user list after delete: exit %d: %s", code, out)
	}
	if code, _, _ := hangar(t, cfg, "", "user", "delete", "alice"); code != exitFailure {
		t.Fatalf("deleting twice: exit %d, want %d", code, exitFailure)
	}

	if code, _, errOut := hangar(t, cfg, "", "token", "revoke", prefix); code != exitOK {
		t.Fatalf("token revoke: exit %d: %s", code, errOut)
	}
	if code, _, _ := hangar(t, cfg, "", "token", "revoke", prefix); code != exitFailure {
		t.Fatalf("revoking twice: exit %d, want %d", code, exitFailure)
	}
}
