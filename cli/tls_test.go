package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"hangar/certs"
	"hangar/hangartest"
)

// A fresh data directory with tls_mode = "local-ca": the onboarding
// listener hands out the CA over plain HTTP, and with it curl verifies the
// HTTPS chain to the configured name and to each of the machine's LAN
// addresses; a restart keeps the CA; a backup carries it to a restored
// directory.
func TestLocalCAServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("SKIPPED: no curl")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen = "127.0.0.1:0"
data_dir = %q
tls_mode = "local-ca"
tls_names = ["hangar.lan"]
onboarding_listen = "127.0.0.1:0"
`, data)), 0o600)
	p := startBinary(t, bin, cfg)
	defer p.kill()
	port := strings.TrimPrefix(p.base, "http://127.0.0.1:")
	m := regexp.MustCompile(`onboarding listener.*addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(waitFor(t, p, "onboarding listener"))
	if m == nil {
		t.Fatalf("no onboarding listener: %s", p.stderr.String())
	}

	// What a tester does: fetch the CA over plain HTTP.
	resp, err := http.Get("http://" + m[1] + "/trust/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	caFile := filepath.Join(t.TempDir(), "hangar-ca.crt")
	os.WriteFile(caFile, caPEM, 0o644)
	if onDisk, _ := os.ReadFile(filepath.Join(data, "tls", "ca.crt")); !bytes.Equal(onDisk, caPEM) {
		t.Fatal("the CA served is not the one in the data directory")
	}
	if fi, err := os.Stat(filepath.Join(data, "tls", "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v %v", fi, err)
	}

	curl := func(url string, extra ...string) {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "--cacert", caFile}, append(extra, url)...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok") {
			t.Fatalf("curl %s %v: %v %s", url, extra, err, out)
		}
	}
	curl("https://hangar.lan:"+port+"/healthz", "--resolve", "hangar.lan:"+port+":127.0.0.1")
	lan, err := certs.LANAddresses()
	if err != nil {
		t.Fatal(err)
	}
	// The server listens on loopback; --connect-to goes there while curl
	// checks the certificate for the LAN address in the URL.
	for _, ip := range lan.IPs {
		host := ip.String()
		if ip.To4() == nil {
			host = "[" + host + "]"
		}
		curl("https://"+host+":"+port+"/healthz", "--connect-to", host+":"+port+":127.0.0.1:"+port)
	}
	t.Logf("verified hangar.lan and %d LAN addresses %v", len(lan.IPs), lan.IPs)
	admin := firstToken(t, p.stderr.String())
	curl("https://hangar.lan:"+port+"/api/v1/workspace", "--resolve", "hangar.lan:"+port+":127.0.0.1",
		"-H", "Authorization: Bearer "+admin, "-d", `{"slug":"acme"}`, "-w", "ok")

	// A restart keeps the CA (testers trusted it) and its certificate.
	b, _ := pem.Decode(caPEM)
	ca, _ := x509.ParseCertificate(b.Bytes)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	p = startBinary(t, bin, cfg)
	port = strings.TrimPrefix(p.base, "http://127.0.0.1:")
	curl("https://hangar.lan:"+port+"/healthz", "--resolve", "hangar.lan:"+port+":127.0.0.1")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	// fsck has nothing to say about a fresh CA; the backup carries it.
	if code, out, errOut := hangarCmd(t, "fsck", "-config", cfg); code != exitOK || strings.Contains(out, "warning") {
		t.Fatalf("fsck: %d %s %s", code, out, errOut)
	}
	tarFile := filepath.Join(t.TempDir(), "backup.tar")
	if code, _, errOut := hangarCmd(t, "backup", "-config", cfg, "-o", tarFile); code != exitOK {
		t.Fatalf("backup: %s", errOut)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if code, out, errOut := hangarCmd(t, "restore", tarFile, "-data", restored); code != exitOK || !strings.Contains(out, "local certificate authority") {
		t.Fatalf("restore: %d %s %s", code, out, errOut)
	}
	for _, f := range []string{"ca.key", "ca.crt"} {
		a, _ := os.ReadFile(filepath.Join(data, "tls", f))
		b, _ := os.ReadFile(filepath.Join(restored, "tls", f))
		fi, err := os.Stat(filepath.Join(restored, "tls", f))
		if len(a) == 0 || !bytes.Equal(a, b) || err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("restored %s differs (%v)", f, err)
		}
	}
	if ca.Subject.CommonName == "" {
		t.Fatal("CA without a name")
	}
}

// waitFor waits until the process's log has a line containing s, and
// returns the log.
func waitFor(t *testing.T, p *process, s string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if log := p.stderr.String(); strings.Contains(log, s) {
			return log
		}
	}
	t.Fatalf("no %q in the log: %s", s, p.stderr.String())
	return ""
}

// tls_mode = "acme" against Pebble (Let's Encrypt's test server): the
// binary obtains a certificate for its name at the first handshake,
// Pebble validating the TLS-ALPN-01 challenge on the binary's own
// listener, and serves it.
func TestACMEServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	port := hangartest.FreePort(t)
	dir, roots, issuer := hangartest.Pebble(t, port, hangartest.FreePort(t))
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen = "127.0.0.1:%d"
data_dir = %q
tls_mode = "acme"
tls_names = ["hangar.localhost"]
acme_email = "ops@example.com"
acme_directory = %q
acme_ca_roots = %q
`, port, data, dir, roots)), 0o600)
	p := startBinary(t, bin, cfg)
	defer p.kill()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: issuer},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
		},
	}}
	resp, err := client.Get(fmt.Sprintf("https://hangar.localhost:%d/healthz", port))
	if err != nil {
		t.Fatalf("%v\n%s", err, p.stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].DNSNames[0] != "hangar.localhost" {
		t.Fatalf("%d %v", resp.StatusCode, resp.TLS.PeerCertificates[0].DNSNames)
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "tls", "acme")); len(entries) == 0 {
		t.Fatal("no certificate cached in DATA/tls/acme")
	}
}

// fsck warns of a server certificate that should have been renewed
// (here made 80 days ago: it expires in 10) without calling it a problem.
func TestFsckWarnsOfExpiringCertificate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := writeDataConfig(t, data)
	_, _, stop := startServe(t, data) // a database to check
	if code := stop(); code != exitOK {
		t.Fatalf("stop: %d", code)
	}
	long := time.Now().Add(-80 * 24 * time.Hour)
	if _, err := certs.OpenLocalCA(data, certs.LocalOptions{Names: certs.Names{DNS: []string{"hangar.lan"}}, Now: func() time.Time { return long }}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := hangarCmd(t, "fsck", "-config", cfg)
	if code != exitOK || !strings.Contains(out, "warning: tls/server.crt expires on") || !strings.Contains(out, "0 problems") {
		t.Fatalf("fsck: %d %s %s", code, out, errOut)
	}
}
