package certs

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// Files is a key pair brought as files (tls_cert, tls_key), read again by
// Reload (SIGHUP) after the admin's own renewal.
type Files struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// LoadFiles reads the pair.
func LoadFiles(certFile, keyFile string) (*Files, error) {
	f := &Files{certFile: certFile, keyFile: keyFile}
	return f, f.Reload()
}

// Reload reads the pair again for new connections; on error the pair in
// use stays.
func (f *Files) Reload() error {
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS key pair: %w", err)
	}
	f.cert.Store(&cert)
	return nil
}

// GetCertificate is tls.Config's.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cert.Load(), nil
}
