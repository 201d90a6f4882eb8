package cli

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With [audit] log = true, each audit entry is also a log line of the
// service (for a SIEM that collects its journal), naming the action, the
// actor and the client; never the password tried.
func TestAuditLogLines(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	base, logs, stop := startServeWith(t, data, "[audit]\nlog = true\n")
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"admin","password":"not-the-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "action=signin.failed"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no audit line:\n%s", logs.String())
		}
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "action=signin.failed") {
			line = l
		}
	}
	if !strings.Contains(line, "msg=audit") || !strings.Contains(line, "client_ip=127.0.0.1") || !strings.Contains(line, "target.name=admin") ||
		strings.Contains(line, "not-the-password") {
		t.Errorf("the audit line: %s", line)
	}
	// Testers' addresses stay out of the log: a group's changes are counts.
	admin := firstToken(t, logs.String())
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/v1/workspace", `{"slug":"acme"}`},
		{"POST", "/api/v1/workspace/acme/tester-group", `{"slug":"qa","members":["secret.tester@example.com"]}`},
		{"PATCH", "/api/v1/workspace/acme/tester-group/qa", `{"remove":["secret.tester@example.com"]}`},
		{"POST", "/api/v1/workspace/acme/tester-signout", `{"email":"secret.tester@example.com"}`},
	} {
		r, _ := http.NewRequest(req.method, base+req.path, strings.NewReader(req.body))
		r.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(r)
		if err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %v %v", req.method, req.path, resp, err)
		}
		resp.Body.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "action=tester.signed_out"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no tester audit lines:\n%s", logs.String())
		}
	}
	if strings.Contains(logs.String(), "secret.tester") {
		t.Errorf("a tester's address in the log:\n%s", logs.String())
	}
	if code := stop(); code != exitOK {
		t.Fatalf("stop: exit %d", code)
	}
}
