package mail_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hangar/config"
	"hangar/hangartest"
	"hangar/mail"
	"hangar/store"
)

func openStore(t *testing.T, now func() time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "hangar.db"), store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A mail reaches a real SMTP server over each kind of connection, with
// both parts and the headers of an automatic mail.
func TestSendThroughMailpit(t *testing.T) {
	cert, key := hangartest.SelfSigned(t)
	for _, tt := range []struct {
		name string
		tls  string
		opts hangartest.MailpitOptions
	}{
		{"none", "none", hangartest.MailpitOptions{}},
		{"starttls", "starttls", hangartest.MailpitOptions{Cert: cert, Key: key}},
		{"implicit", "tls", hangartest.MailpitOptions{Cert: cert, Key: key, Implicit: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mp := hangartest.StartMailpit(t, tt.opts)
			st := openStore(t, nil)
			pw := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(pw, []byte("smtp-secret\n"), 0o600)
			s, err := mail.New(config.SMTP{Host: mp.Host, Port: mp.SMTPPort, TLS: tt.tls, Username: "hangar", PasswordFile: pw,
				From: "Hangar <hangar@example.com>", CAFile: cert}, st, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := store.Mail{To: "ann@example.org", Subject: "Ünïcode subject: an invitation", Text: "Open this:\nhttps://hangar.example/x\n",
				HTML: "<p>Open <a href=\"https://hangar.example/x\">this</a></p>"}
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := mp.WaitFor(1)
			msg := mp.Message(got[0].ID)
			if msg.Subject != m.Subject || msg.To[0].Address != "ann@example.org" || msg.From.Address != "hangar@example.com" {
				t.Errorf("arrived: subject %q, to %+v, from %+v", msg.Subject, msg.To, msg.From)
			}
			if !strings.Contains(msg.Text, "https://hangar.example/x") || !strings.Contains(msg.HTML, `href="https://hangar.example/x"`) {
				t.Errorf("parts: text %q, html %q", msg.Text, msg.HTML)
			}
			for _, h := range []string{"Date", "Message-Id", "Auto-Submitted"} {
				if len(msg.Headers[h]) != 1 {
					t.Errorf("header %s: %v (all: %v)", h, msg.Headers[h], msg.Headers)
				}
			}
			if msg.Headers["Auto-Submitted"][0] != "auto-generated" {
				t.Errorf("Auto-Submitted: %v", msg.Headers["Auto-Submitted"])
			}
		})
	}
}

// STARTTLS is required when configured: a server that does not offer it
// gets no mail (and no password).
func TestStartTLSRequired(t *testing.T) {
	mp := hangartest.StartMailpit(t, hangartest.MailpitOptions{})
	s, err := mail.New(config.SMTP{Host: mp.Host, Port: mp.SMTPPort, TLS: "starttls", Username: "u", Password: "p", From: "h@example.com"}, openStore(t, nil), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), store.Mail{To: "a@example.org", Subject: "s", Text: "t"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("got %v, want a refusal for lack of STARTTLS", err)
	}
}

// Nothing in a field adds a header or a recipient.
func TestNoHeaderInjection(t *testing.T) {
	for _, to := range []string{"a@example.org\r\nBcc: b@example.org", "a@example.org, b@example.org", "Ann <a@example.org>",
		"a@example.org\nX: y", "", "no-at-sign", "a@localhost", strings.Repeat("a", 250) + "@example.org"} {
		if _, err := mail.ValidAddress(to); err == nil {
			t.Errorf("address %q accepted", to)
		}
	}
	for _, m := range []store.Mail{
		{To: "a@example.org", Subject: "hi\r\nBcc: b@example.org", Text: "t"},
		{To: "a@example.org", Subject: "", Text: "t"},
		{To: "a@example.org", Subject: "s", Text: ""},
		{To: "a@example.org", Subject: "s", Text: strings.Repeat("x", store.MaxMailBody+1)},
	} {
		if _, err := mail.Compose("h@example.com", m, time.Now()); err == nil {
			t.Errorf("mail %q accepted", m.Subject)
		}
	}
	raw, err := mail.Compose("h@example.com", store.Mail{To: "a@example.org", Subject: "=?utf-8?q?x?= Bcc: b", Text: "Bcc: b@example.org\r\n\r\nbody"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	if strings.Contains(head, "\nBcc:") {
		t.Errorf("a header was injected:\n%s", head)
	}
}

// The sender retries with backoff while the server is down, and delivers
// when it is back; the queue holds each recipient to a rate.
func TestSenderRetriesAndBounds(t *testing.T) {
	clock := hangartest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	st := openStore(t, clock.Now)
	port := hangartest.FreePort(t) // nothing listens yet
	s, err := mail.New(config.SMTP{Host: "127.0.0.1", Port: port, TLS: "none", From: "h@example.com"}, st, slog.New(slog.DiscardHandler), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range store.MaxMailsPerHour + 2 {
		err := st.QueueMail(store.Mail{To: "Ann@Example.org", Subject: "s", Text: "t"})
		if i < store.MaxMailsPerHour && err != nil || i >= store.MaxMailsPerHour && err == nil {
			t.Fatalf("mail %d to one address: %v", i+1, err)
		}
	}
	if err := st.QueueMail(store.Mail{To: "bob@example.org", Subject: "s", Text: "t"}); err != nil {
		t.Fatalf("another recipient: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx, 10*time.Millisecond); close(done) }()
	waitMails := func(want func(ms []store.Mail) bool) []store.Mail {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			_, ms, _ := st.DueMails(100)
			clock.Advance(0)
			all := ms
			if want(all) {
				return all
			}
			if time.Now().After(deadline) {
				t.Fatalf("outbox: %+v", all)
			}
		}
	}
	// Every mail failed once and waits 30 s: none is due.
	waitMails(func(ms []store.Mail) bool { return len(ms) == 0 })
	if n, _ := st.QueuedMails(); n != store.MaxMailsPerHour+1 {
		t.Fatalf("%d mails queued, want %d", n, store.MaxMailsPerHour+1)
	}
	// The server comes up on that port; 30 s later they are delivered.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Skip("the port was taken meanwhile")
	}
	ln.Close()
	mp := hangartest.StartMailpit(t, hangartest.MailpitOptions{SMTPPort: port})
	clock.Advance(31 * time.Second)
	s.Wake()
	mp.WaitFor(store.MaxMailsPerHour + 1)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := st.QueuedMails(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outbox did not empty")
		}
	}
	cancel()
	<-done
}

// A recipient the server refuses (a 5xx) is given up at once, not
// retried, and the refusal's text (which names the recipient) reaches
// neither the log nor the outbox.
func TestPermanentRefusalGivenUp(t *testing.T) {
	mp := hangartest.StartMailpit(t, hangartest.MailpitOptions{AllowedRecipients: `@example\.org$`})
	st := openStore(t, nil)
	var logs hangartest.SyncBuffer
	s, err := mail.New(config.SMTP{Host: mp.Host, Port: mp.SMTPPort, TLS: "none", From: "h@example.com"}, st, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.QueueMail(store.Mail{To: "refused-person@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, 10*time.Millisecond); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := st.QueuedMails(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused mail is still queued:\n%s", logs.String())
		}
	}
	cancel()
	<-done
	if !strings.Contains(logs.String(), "mail given up") || strings.Contains(logs.String(), "will retry") {
		t.Errorf("not given up at once:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "refused-person") {
		t.Errorf("the log names the recipient:\n%s", logs.String())
	}
}
