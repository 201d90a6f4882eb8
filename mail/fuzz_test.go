package mail_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"hangar/mail"
	"hangar/store"
)

// Whatever a form puts in an address, a subject, a body or an unsubscribe
// URL, a composed
// mail has exactly the headers Compose writes, and an accepted address is
// one bare mailbox.
func FuzzCompose(f *testing.F) {
	f.Add("ann@example.org", "Welcome", "body", "")
	f.Add("a@b.co\r\nBcc: x@y.z", "s\nBcc: x@y.z", "Bcc: x\r\n\r\n", "https://h/t/unsubscribe/x")
	f.Add("\"a b\"@example.org", "=?utf-8?q?=0D=0A?=", "", "https://h/x>\r\nBcc: y@z.co")
	f.Fuzz(func(t *testing.T, to, subject, text, unsubscribe string) {
		if a, err := mail.ValidAddress(to); err == nil {
			if strings.ContainsAny(a, "\r\n ,<>") || len(a) > 254 || strings.Count(a, "@") != 1 {
				t.Fatalf("accepted %q as %q", to, a)
			}
		}
		raw, err := mail.Compose("Hangar <h@example.com>", store.Mail{To: to, Subject: subject, Text: text, Unsubscribe: unsubscribe}, time.Unix(0, 0))
		if err != nil {
			return
		}
		head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !ok {
			t.Fatal("no end of headers")
		}
		names := []string{}
		for _, line := range strings.Split(string(head), "\r\n") {
			name, _, ok := strings.Cut(line, ":")
			if !ok || strings.HasPrefix(line, " ") {
				t.Fatalf("a header line that is not a header: %q", line)
			}
			names = append(names, name)
		}
		want := "From To Subject Date Message-ID Auto-Submitted X-Auto-Response-Suppress MIME-Version Content-Type Content-Transfer-Encoding"
		if unsubscribe != "" {
			want = "From To Subject Date Message-ID Auto-Submitted X-Auto-Response-Suppress List-Unsubscribe List-Unsubscribe-Post MIME-Version Content-Type Content-Transfer-Encoding"
		}
		if strings.Join(names, " ") != want {
			t.Fatalf("headers %v", names)
		}
	})
}
