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
	if code := stop(); code != exitOK {
		t.Fatalf("stop: exit %d", code)
	}
}
