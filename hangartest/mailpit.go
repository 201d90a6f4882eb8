package hangartest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mailpit is a real SMTP server started for one test, with the HTTP API
// that reads what arrived.
type Mailpit struct {
	Host     string // 127.0.0.1
	SMTPPort int
	API      string // http://127.0.0.1:port
	t        testing.TB
}

// MailpitOptions start mailpit with TLS: a certificate and key (PEM
// files) for STARTTLS, or for implicit TLS when Implicit is set.
type MailpitOptions struct {
	Cert, Key string
	Implicit  bool
	// SMTPPort is the port to listen on (0: a free one).
	SMTPPort int
	// AllowedRecipients, when set, is a regular expression: other
	// recipients are refused (a 5xx).
	AllowedRecipients string
}

// StartMailpit starts mailpit on loopback, for one test. Without the
// binary the test is skipped, except in CI, where .ci/run installs it and
// its absence fails.
func StartMailpit(t testing.TB, o MailpitOptions) *Mailpit {
	t.Helper()
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("SKIPPED: no mailpit here (go install github.com/axllent/mailpit@v1.33.1; .ci/run installs it)")
		}
		t.Fatal("mailpit is missing: .ci/run installs it")
	}
	for try := 0; ; try++ {
		m := &Mailpit{Host: "127.0.0.1", SMTPPort: o.SMTPPort, t: t}
		if m.SMTPPort == 0 {
			m.SMTPPort = FreePort(t)
		}
		apiPort := FreePort(t)
		m.API = "http://127.0.0.1:" + strconv.Itoa(apiPort)
		args := []string{"--smtp", "127.0.0.1:" + strconv.Itoa(m.SMTPPort), "--listen", "127.0.0.1:" + strconv.Itoa(apiPort),
			"--database", filepath.Join(t.TempDir(), "mailpit.db"), "--disable-version-check", "--smtp-disable-rdns", "--quiet",
			"--smtp-auth-accept-any"} // any username and password
		if o.AllowedRecipients != "" {
			args = append(args, "--smtp-allowed-recipients", o.AllowedRecipients)
		}
		if o.Cert == "" {
			args = append(args, "--smtp-auth-allow-insecure") // over plain SMTP too
		} else {
			args = append(args, "--smtp-tls-cert", o.Cert, "--smtp-tls-key", o.Key)
			if o.Implicit {
				args = append(args, "--smtp-require-tls")
			} else {
				args = append(args, "--smtp-require-starttls")
			}
		}
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// One goroutine waits for the process; stopping kills it and
		// waits for that.
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { cmd.Process.Kill(); <-exited }) })
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp, err := http.Get(m.API + "/api/v1/messages")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return m
				}
			}
			select {
			case <-exited:
				// A port taken between FreePort and the start: again.
				if try < 3 && o.SMTPPort == 0 && strings.Contains(out.String(), "address already in use") {
					goto again
				}
				t.Fatalf("mailpit exited: %s", out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("mailpit did not start: %v\n%s", err, out.String())
			}
		}
	again:
	}
}

// MailSummary is a message as mailpit lists it.
type MailSummary struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

// Message is one message as mailpit reads it: its parts and headers.
type Message struct {
	ID      string
	Subject string
	Text    string
	HTML    string
	To      []struct{ Address string }
	From    struct{ Name, Address string }
	Headers map[string][]string
}

// Messages lists what arrived, newest first.
func (m *Mailpit) Messages() []MailSummary {
	m.t.Helper()
	var out struct{ Messages []MailSummary }
	m.getJSON("/api/v1/messages", &out)
	return out.Messages
}

// WaitFor waits until n messages have arrived and returns them, newest
// first.
func (m *Mailpit) WaitFor(n int) []MailSummary {
	m.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := m.Messages()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mailpit: %d messages arrived, want %d", len(got), n)
		}
	}
}

// Message reads one message, with its headers.
func (m *Mailpit) Message(id string) Message {
	m.t.Helper()
	var msg Message
	m.getJSON("/api/v1/message/"+id, &msg)
	m.getJSON("/api/v1/message/"+id+"/headers", &msg.Headers)
	return msg
}

// Raw returns a message as it arrived.
func (m *Mailpit) Raw(id string) string {
	m.t.Helper()
	resp, err := http.Get(m.API + "/api/v1/message/" + id + "/raw")
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

func (m *Mailpit) getJSON(path string, out any) {
	m.t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("mailpit %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		m.t.Fatal(fmt.Errorf("mailpit %s: %w", path, err))
	}
}
