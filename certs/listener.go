package certs

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"hangar/config"
)

// Listener is the HTTPS listener's certificate source for the configured
// tls_mode; a nil *Listener is plain HTTP.
type Listener struct {
	Mode  string
	Files *Files            // "files"
	CA    *LocalCA          // "local-ca": the trust page offers it
	ACME  *autocert.Manager // "acme"
}

// New sets up the certificates tls_mode asks for: it loads the files,
// opens (or makes) the local CA and its server certificate, or prepares
// ACME (certificates come at the first handshake for a name). Off: nil.
func New(cfg config.Config, log *slog.Logger, now func() time.Time) (*Listener, error) {
	l := &Listener{Mode: cfg.TLSMode}
	var err error
	switch cfg.TLSMode {
	case "files":
		l.Files, err = LoadFiles(cfg.TLSCert, cfg.TLSKey)
	case "local-ca":
		o := LocalOptions{Now: now, Logger: log, Names: Names{DNS: cfg.TLSNames}}
		for _, a := range cfg.TLSIPs {
			o.Names.IPs = append(o.Names.IPs, net.IP(a.AsSlice()))
		}
		for _, p := range cfg.TLSRanges {
			o.Names.Ranges = append(o.Names.Ranges, &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())})
		}
		if cfg.TLSLANAddresses {
			// Without them the configured names still work: a sandbox
			// that hides the interfaces must not stop the server.
			if o.Extra, err = LANAddresses(); err != nil {
				log.Warn("cannot read the machine's addresses; the certificate covers tls_names only", "err", err)
			}
		}
		l.CA, err = OpenLocalCA(cfg.DataDir, o)
	case "acme":
		l.ACME, err = NewACME(cfg.DataDir, ACMEOptions{Names: cfg.TLSNames, Email: cfg.ACMEEmail, Directory: cfg.ACMEDirectory, Roots: cfg.ACMECARoots})
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// TLSConfig is the listener's configuration: the certificate is looked up
// at each handshake, so renewals and reloads need no restart.
func (l *Listener) TLSConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case l.Files != nil:
		c.GetCertificate = l.Files.GetCertificate
	case l.CA != nil:
		c.GetCertificate = l.CA.GetCertificate
	case l.ACME != nil:
		c.GetCertificate = l.ACME.GetCertificate
		c.NextProtos = []string{acme.ALPNProto} // TLS-ALPN-01 challenges
	}
	return c
}

// Reload reads brought files again (SIGHUP); the other modes renew
// themselves.
func (l *Listener) Reload() error {
	if l == nil || l.Files == nil {
		return nil
	}
	return l.Files.Reload()
}

// Run renews the local CA's server certificate when due, checking every
// interval, until done is closed. ACME renews on its own.
func (l *Listener) Run(done <-chan struct{}, every time.Duration) {
	if l != nil && l.CA != nil {
		l.CA.Run(done, every)
	}
}

// HTTPHandler wraps the plain-HTTP listener's handler so that it answers
// ACME HTTP-01 challenges (ACME mode); otherwise it is h.
func (l *Listener) HTTPHandler(h http.Handler) http.Handler {
	if l == nil || l.ACME == nil {
		return h
	}
	acmeHandler := l.ACME.HTTPHandler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// autocert checks the Host header against tls_names as it comes,
		// port included: a listener on another port than 80 (a test, a
		// proxy that keeps the port) would fail every challenge.
		if host, _, err := net.SplitHostPort(r.Host); err == nil && strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			r = r.Clone(r.Context())
			r.Host = host
		}
		acmeHandler.ServeHTTP(w, r)
	})
}
