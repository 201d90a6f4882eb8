package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"hangar/config"
	"hangar/store"
)

// Sender delivers the store's mail outbox over SMTP in the background:
// due mails oldest first, one connection each, a failure retried with
// backoff and given up after the last one (or at once on a permanent
// refusal: a 5xx reply).
type Sender struct {
	cfg    config.SMTP
	st     *store.Store
	log    *slog.Logger
	now    func() time.Time
	tlsCfg *tls.Config
	hello  string
	wake   chan struct{}

	mu   sync.Mutex
	sent int // mails delivered, for tests and metrics
}

// Backoff is the wait after each failed attempt; after the last, the mail
// is given up (about a day in all).
var Backoff = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}

// sendTimeout bounds one SMTP conversation.
const sendTimeout = 30 * time.Second

// New returns a sender for cfg (whose password file, if any, it reads
// now). now may be nil.
func New(cfg config.SMTP, st *store.Store, log *slog.Logger, now func() time.Time) (*Sender, error) {
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.password_file: %w", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Sender{cfg: cfg, st: st, log: log, now: now, wake: make(chan struct{}, 1), hello: "localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		s.hello = h
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp.ca_file: %s holds no PEM certificate", cfg.CAFile)
		}
	}
	s.tlsCfg = &tls.Config{ServerName: cfg.Host, RootCAs: roots, MinVersion: tls.VersionTLS12}
	return s, nil
}

// Wake makes the sender look at the outbox now (a mail was queued).
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Sent counts the mails delivered since the sender started.
func (s *Sender) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Run delivers due mails until ctx is done, looking again when woken
// and at least every poll.
func (s *Sender) Run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		s.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

func (s *Sender) drain(ctx context.Context) {
	for ctx.Err() == nil {
		keys, mails, err := s.st.DueMails(16)
		if err != nil {
			s.log.Error("mail outbox", "err", err)
			return
		}
		if len(mails) == 0 {
			return
		}
		for i, m := range mails {
			s.attempt(ctx, keys[i], m)
		}
	}
}

// attempt sends one mail and records the outcome. Logs name the mail by
// its ID and the recipient's domain: an address is personal data, and the
// body holds a one-time link.
func (s *Sender) attempt(ctx context.Context, key uint64, m store.Mail) {
	err := s.Send(ctx, m)
	if err != nil {
		// Servers echo the recipient in their refusals ("550 <ann@…>
		// unknown"): neither the log nor the outbox keeps it.
		err = redacted{err, m.To}
	}
	domain := domainOf(m.To)
	if err == nil {
		s.mu.Lock()
		s.sent++
		s.mu.Unlock()
		s.log.Info("mail sent", "mail", m.ID, "to_domain", domain)
		if err := s.st.MailDone(key); err != nil {
			s.log.Error("mail outbox", "err", err)
		}
		return
	}
	var te *textproto.Error
	permanent := errors.As(err, &te) && te.Code >= 500 || errors.Is(err, ErrAddress)
	if permanent || m.Attempts >= len(Backoff)-1 {
		s.log.Error("mail given up", "mail", m.ID, "to_domain", domain, "attempts", m.Attempts+1, "err", err)
		if err := s.st.MailDone(key); err != nil {
			s.log.Error("mail outbox", "err", err)
		}
		return
	}
	next := s.now().Add(Backoff[m.Attempts])
	s.log.Warn("mail failed; will retry", "mail", m.ID, "to_domain", domain, "attempt", m.Attempts+1, "retry_at", next, "err", err)
	if err := s.st.MailRetry(key, err.Error(), next); err != nil {
		s.log.Error("mail outbox", "err", err)
	}
}

// Send delivers one mail now, in one SMTP conversation.
func (s *Sender) Send(ctx context.Context, m store.Mail) error {
	raw, err := Compose(s.cfg.From, m, s.now())
	if err != nil {
		return err
	}
	from, _ := mail.ParseAddress(s.cfg.From) // checked by config
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	if s.cfg.TLS == "tls" {
		tc := tls.Client(conn, s.tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtp: tls: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.hello); err != nil {
		return fmt.Errorf("smtp: hello: %w", err)
	}
	if s.cfg.TLS == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("smtp: the server does not offer STARTTLS (tls = \"starttls\" requires it)")
		}
		if err := c.StartTLS(s.tlsCfg); err != nil {
			return fmt.Errorf("smtp: starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		// PlainAuth refuses to send the password unencrypted to any host
		// but this one.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("smtp: auth: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("smtp: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	return c.Quit()
}

// redacted is an error whose text names no recipient.
type redacted struct {
	err error
	to  string
}

func (r redacted) Error() string {
	return strings.ReplaceAll(strings.ReplaceAll(r.err.Error(), r.to, "(recipient)"), strings.ToLower(r.to), "(recipient)")
}

func (r redacted) Unwrap() error { return r.err }
