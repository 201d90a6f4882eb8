package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEOptions are NewACME's settings.
type ACMEOptions struct {
	Names     []string // DNS names only: ACME CAs do not issue for LAN addresses
	Email     string
	Directory string // the ACME directory URL; Let's Encrypt's when empty
	// Roots, a PEM file, are the CAs trusted for the ACME server's own
	// HTTPS (a private ACME CA, or Pebble in tests); the system's when
	// empty.
	Roots string
}

// NewACME returns an autocert manager that obtains and renews
// certificates for the names, cached in dataDir/tls/acme. Its TLSConfig
// answers TLS-ALPN-01 challenges on the HTTPS listener; HTTPHandler
// answers HTTP-01 on the onboarding (plain HTTP) listener.
func NewACME(dataDir string, o ACMEOptions) (*autocert.Manager, error) {
	if len(o.Names) == 0 {
		return nil, errors.New("tls: acme needs tls_names with the host's public DNS names")
	}
	m := &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(filepath.Join(dataDir, "tls", "acme")),
		HostPolicy:  autocert.HostWhitelist(o.Names...),
		Email:       o.Email,
		RenewBefore: RenewBefore,
		Client:      &acme.Client{DirectoryURL: o.Directory},
	}
	if m.Client.DirectoryURL == "" {
		m.Client.DirectoryURL = autocert.DefaultACMEDirectory
	}
	if o.Roots != "" {
		pemData, err := os.ReadFile(o.Roots)
		if err != nil {
			return nil, fmt.Errorf("tls: acme_ca_roots: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("tls: acme_ca_roots %s holds no PEM certificate", o.Roots)
		}
		m.Client.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			Proxy:           http.ProxyFromEnvironment,
		}}
	}
	return m, nil
}
