package certs

import (
	"context"
	"crypto/tls"
	"hangar/hangartest"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ACME against Pebble: the first handshake for the name obtains a
// certificate (Pebble validates the TLS-ALPN-01 challenge on the listener
// itself), which is then served, chained to Pebble's root, and cached.
func TestACMEWithPebble(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dirURL, roots, issuer := hangartest.Pebble(t, ln.Addr().(*net.TCPAddr).Port)
	data := t.TempDir()
	m, err := NewACME(data, ACMEOptions{Names: []string{"hangar.localhost"}, Email: "ops@example.com", Directory: dirURL, Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{Mode: "acme", ACME: m}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go hs.Serve(tls.NewListener(ln, l.TLSConfig()))
	defer hs.Close()

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: issuer},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
		},
	}}
	resp, err := client.Get("https://hangar.localhost/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	leaf := resp.TLS.PeerCertificates[0]
	if string(body) != "ok" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "hangar.localhost" {
		t.Fatalf("served %v: %q", leaf.DNSNames, body)
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "tls", "acme")); len(entries) == 0 {
		t.Fatal("nothing cached in DATA/tls/acme")
	}
	// A name outside tls_names gets no certificate.
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "other.example", RootCAs: issuer}); err == nil {
		t.Fatal("a handshake for another name succeeded")
	}
}
