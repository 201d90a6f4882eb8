package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hangar/config"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "hangar test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  nil,
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// tlsEnv is an env whose server also runs on a real listener with a
// self-signed certificate (serial 1) from files: the listener's address
// and the files.
func tlsEnv(t *testing.T) (e *env, addr, certFile, keyFile string) {
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	e = newEnvWith(t, func(c *config.Config) { c.TLSMode, c.TLSCert, c.TLSKey = "files", certFile, keyFile })
	return e, serveReal(t, e), certFile, keyFile
}

func TestTLSReloadAndHTTP2(t *testing.T) {
	e, addr, certFile, keyFile := tlsEnv(t)

	get := func() (*http.Response, error) {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // self-signed; the serial is what is checked
			ForceAttemptHTTP2: true,
			DisableKeepAlives: true,
		}}
		return client.Get("https://" + addr + "/healthz")
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
		t.Fatalf("got %s with certificate %v, want HTTP/2 with serial 1", resp.Proto, resp.TLS.PeerCertificates[0].SerialNumber)
	}

	// A renewed certificate, then a reload (what SIGHUP does).
	writeCert(t, certFile, keyFile, 2)
	if err := e.srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	resp, err = get()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 2 {
		t.Fatalf("after reload: serial %d, want 2", got)
	}

	// A broken file: the reload fails and the certificate in use stays.
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	if err := e.srv.ReloadTLS(); err == nil {
		t.Fatal("reloading a broken certificate succeeded")
	}
	resp, err = get()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 2 {
		t.Fatalf("after a failed reload: serial %d, want 2", got)
	}
}
