// Package mail sends Hangar's mail: it composes a message (plain text and
// HTML, the headers an automatic mail needs, nothing a field can inject),
// and a background Sender delivers the store's outbox over SMTP with
// retries.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"hangar/store"
)

// ErrAddress is returned for an address that is not one plain mailbox.
var ErrAddress = errors.New("not an e-mail address")

// ValidAddress checks that s is one bare mailbox (local@domain), at most
// 254 bytes, with nothing a header could carry besides (no name, no
// comment, no line break), and returns it as stored: the domain in lower
// case.
func ValidAddress(s string) (string, error) {
	if len(s) > 254 || strings.ContainsAny(s, "\r\n<>,;\"()\\ \t") {
		return "", fmt.Errorf("%w: %q", ErrAddress, clip(s))
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("%w: %q", ErrAddress, clip(s))
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || len(local) > 64 || !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", fmt.Errorf("%w: %q", ErrAddress, clip(s))
	}
	return local + "@" + strings.ToLower(domain), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Check says whether m may be queued: a valid recipient, a one-line
// subject, and bodies within store's bounds.
func Check(m store.Mail) error {
	if _, err := ValidAddress(m.To); err != nil {
		return err
	}
	switch {
	case m.Subject == "" || len(m.Subject) > store.MaxMailSubject || strings.ContainsAny(m.Subject, "\r\n"):
		return errors.New("mail: the subject must be one line of at most 200 bytes")
	case m.Text == "" || len(m.Text) > store.MaxMailBody || len(m.HTML) > store.MaxMailBody:
		return errors.New("mail: a body must be present and at most 64 KiB")
	case m.Unsubscribe != "" && (len(m.Unsubscribe) > 1000 || !strings.HasPrefix(m.Unsubscribe, "https://") && !strings.HasPrefix(m.Unsubscribe, "http://") ||
		strings.ContainsFunc(m.Unsubscribe, func(r rune) bool { return r <= ' ' || r == '<' || r == '>' || r == 0x7f || r > 0x7e })):
		return errors.New("mail: the unsubscribe URL must be one http(s) URL of at most 1000 printable ASCII bytes")
	}
	return nil
}

// Compose returns m as an RFC 5322 message from from, dated now: plain
// text and, when m has one, an HTML alternative, each quoted-printable.
// Header values come only from checked fields, and the subject is
// encoded as RFC 2047 words, so no field can add a header.
func Compose(from string, m store.Mail, now time.Time) ([]byte, error) {
	if err := Check(m); err != nil {
		return nil, err
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: from: %w", err)
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", fromAddr.String())
	h("To", "<"+m.To+">")
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+messageID()+"@"+domainOf(fromAddr.Address)+">")
	// RFC 3834: an automatic mail; vacation responders stay quiet.
	h("Auto-Submitted", "auto-generated")
	h("X-Auto-Response-Suppress", "All")
	if m.Unsubscribe != "" {
		// RFC 8058: mail clients offer one click, which POSTs
		// "List-Unsubscribe=One-Click" to the URL.
		h("List-Unsubscribe", "<"+m.Unsubscribe+">")
		h("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	h("MIME-Version", "1.0")
	if m.HTML == "" {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, m.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", m.Text}, {"text/html; charset=utf-8", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, part.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type writer interface{ Write([]byte) (int, error) }

func writeQP(w writer, body string) error {
	qp := quotedprintable.NewWriter(w)
	// Line ends are CRLF on the wire; the encoder keeps them as they come.
	if _, err := qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return err
	}
	return qp.Close()
}

func messageID() string {
	var r [16]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

func domainOf(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok && d != "" {
		return d
	}
	return "hangar.invalid"
}
