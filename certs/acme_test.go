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
	dirURL, roots, issuer := hangartest.Pebble(t, ln.Addr().(*net.TCPAddr).Port, hangartest.FreePort(t))
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

// HTTP-01 on the plain-HTTP (onboarding) listener: with the TLS port out
// of Pebble's reach, autocert's TLS-ALPN-01 attempt fails and it answers
// the HTTP-01 challenge through Listener.HTTPHandler instead.
func TestACMEHTTP01(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := hangartest.FreePort(t)
	dirURL, roots, issuer := hangartest.Pebble(t, unreachable, plain.Addr().(*net.TCPAddr).Port)
	m, err := NewACME(t.TempDir(), ACMEOptions{Names: []string{"hangar.localhost"}, Directory: dirURL, Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{Mode: "acme", ACME: m}
	fallbackHits := 0
	hp := &http.Server{Handler: l.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fallbackHits++
		http.Redirect(w, r, "https://hangar.localhost/", http.StatusFound)
	}))}
	go hp.Serve(plain)
	defer hp.Close()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go hs.Serve(tls.NewListener(ln, l.TLSConfig()))
	defer hs.Close()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "hangar.localhost", RootCAs: issuer})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "hangar.localhost" {
		t.Fatalf("served %v", got)
	}
	// Everything else on the plain listener goes to the fallback.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get("http://" + plain.Addr().String() + "/p/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || fallbackHits != 1 {
		t.Fatalf("fallback: %d, %d hits", resp.StatusCode, fallbackHits)
	}
}
