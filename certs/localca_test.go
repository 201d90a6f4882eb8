package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func testNames(t *testing.T) Names {
	t.Helper()
	_, lo, _ := net.ParseCIDR("127.0.0.0/8")
	return Names{DNS: []string{"hangar.lan"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, Ranges: []*net.IPNet{lo}}
}

func openTestCA(t *testing.T, dir string, c *clock) *LocalCA {
	t.Helper()
	ca, err := OpenLocalCA(dir, LocalOptions{Names: testNames(t), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing", name)
		}
		t.Skipf("SKIPPED: no %s here", name)
	}
}

// openssl accepts the server certificate, and rejects one for a name
// outside the CA's constraints even though the CA's key signed it.
func TestLocalCAChainAndConstraints(t *testing.T) {
	needTool(t, "openssl")
	dir := t.TempDir()
	ca := openTestCA(t, dir, &clock{time.Now()})
	tlsDir := filepath.Join(dir, "tls")
	for _, f := range []string{"ca.key", "server.key"} {
		if fi, err := os.Stat(filepath.Join(tlsDir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	verify := func(certFile string) (string, error) {
		out, err := exec.Command("openssl", "verify", "-x509_strict", "-CAfile", filepath.Join(tlsDir, "ca.crt"), certFile).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(filepath.Join(tlsDir, "server.crt")); err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	if ca.Leaf().NotAfter.Sub(ca.Leaf().NotBefore) > 398*24*time.Hour {
		t.Fatal("server certificate valid longer than Apple accepts")
	}

	_, caKey, err := loadPair(tlsDir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	for _, evil := range []struct {
		dns []string
		ips []net.IP
	}{{dns: []string{"bank.example.com"}}, {ips: []net.IP{net.IPv4(192, 0, 2, 7)}}, {dns: []string{"hangar.lan.evil.com"}}} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: "evil"}, DNSNames: evil.dns, IPAddresses: evil.ips,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		}, ca.CA(), &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "evil.crt")
		os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		out, err := verify(f)
		if err == nil || !strings.Contains(out, "subtree") {
			t.Fatalf("openssl accepted a certificate for %v %v: %v\n%s", evil.dns, evil.ips, err, out)
		}
		// Go's verifier too.
		evilCert, _ := x509.ParseCertificate(der)
		pool := x509.NewCertPool()
		pool.AddCert(ca.CA())
		if _, err := evilCert.Verify(x509.VerifyOptions{Roots: pool}); err == nil {
			t.Fatalf("Go accepted a certificate for %v %v", evil.dns, evil.ips)
		}
	}
}

// curl --cacert reaches the server by address and by name; a renewal
// near expiry (injected clock) is served to new connections at once.
func TestLocalCAServesAndRenews(t *testing.T) {
	needTool(t, "curl")
	dir := t.TempDir()
	c := &clock{time.Now()}
	ca := openTestCA(t, dir, c)
	// Not httptest's TLS server: its own certificate would answer
	// handshakes without SNI.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: ca.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })}
	go hs.Serve(ln)
	defer hs.Close()
	addr := ln.Addr().String()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	caFile := filepath.Join(dir, "tls", "ca.crt")
	for _, args := range [][]string{
		{"https://127.0.0.1:" + port + "/"},
		{"--resolve", "hangar.lan:" + port + ":127.0.0.1", "https://hangar.lan:" + port + "/"},
	} {
		out, err := exec.Command("curl", append([]string{"-sS", "--cacert", caFile}, args...)...).CombinedOutput()
		if err != nil || string(out) != "hello" {
			t.Fatalf("curl %v: %v %s", args, err, out)
		}
	}
	served := func() *x509.Certificate {
		t.Helper()
		pool := x509.NewCertPool()
		pool.AddCert(ca.CA())
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "hangar.lan",
			Time: c.now})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	first := served()
	if renewed, err := ca.RenewIfDue(); err != nil || renewed {
		t.Fatalf("renewed a fresh certificate: %v %v", renewed, err)
	}
	c.t = c.t.Add(ServerValidity - RenewBefore + time.Hour)
	if renewed, err := ca.RenewIfDue(); err != nil || !renewed {
		t.Fatalf("not renewed near expiry: %v %v", renewed, err)
	}
	second := served()
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || !second.NotAfter.After(first.NotAfter) {
		t.Fatal("the renewed certificate is not served")
	}
	// A restart keeps the CA and the renewed certificate.
	again := openTestCA(t, dir, c)
	if again.Fingerprint() != ca.Fingerprint() || again.Leaf().SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatal("a restart changed the CA or reissued a valid certificate")
	}
	if got := Expiring(dir, c.t); len(got) != 0 {
		t.Fatalf("expiring: %v", got)
	}
	if got := Expiring(dir, c.t.Add(ServerValidity)); len(got) != 1 || !strings.Contains(got[0], "server.crt expired") {
		t.Fatalf("expiring after the server certificate: %v", got)
	}
	if got := Expiring(dir, c.t.Add(CAValidity-100*24*time.Hour)); len(got) != 2 || !strings.Contains(got[0], "ca.crt expires") {
		t.Fatalf("expiring near the CA's end: %v", got)
	}
}

// A configured name outside an existing CA's constraints is refused with
// what to do; a LAN address outside them is left out.
func TestLocalCANamesOutside(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Now()}
	openTestCA(t, dir, c)
	_, err := OpenLocalCA(dir, LocalOptions{Names: Names{DNS: []string{"other.lan"}}, Now: c.now})
	if err == nil || !strings.Contains(err.Error(), "other.lan outside") || !strings.Contains(err.Error(), "ca.key") {
		t.Fatalf("a name outside the constraints: %v", err)
	}
	// Names under a permitted domain are within it.
	ca, err := OpenLocalCA(dir, LocalOptions{Names: Names{DNS: []string{"builds.hangar.lan"}},
		Extra: Names{IPs: []net.IP{net.IPv4(10, 9, 8, 7).To4()}}, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Leaf().DNSNames; len(got) != 1 || got[0] != "builds.hangar.lan" || len(ca.Leaf().IPAddresses) != 0 {
		t.Fatalf("server certificate names: %v %v", got, ca.Leaf().IPAddresses)
	}
}

// Without any DNS name the CA may vouch for none (not for all).
func TestLocalCAOnlyAddresses(t *testing.T) {
	_, lo, _ := net.ParseCIDR("127.0.0.0/8")
	ca, err := OpenLocalCA(t.TempDir(), LocalOptions{Names: Names{IPs: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, Ranges: []*net.IPNet{lo}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.CA().PermittedDNSDomains; len(got) != 1 || got[0] != "invalid" {
		t.Fatalf("permitted DNS: %v", got)
	}
}
