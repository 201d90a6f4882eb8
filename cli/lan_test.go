package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hangar/config"
	"hangar/hangartest"
)

// serve -lan: HTTPS from the local CA whose certificate names this
// machine's name and its LAN addresses and chains to the CA it prints,
// the trust page on plain HTTP, and URLs naming the primary LAN address.
// Checked over loopback only (curl --resolve and Go's TLS client): the
// test sends nothing to the machine's LAN addresses.
func TestServeLAN(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server with a CA")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("SKIPPED: no curl")
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skip("no host name")
	}
	host = strings.ToLower(host)
	data := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	// The ports are the test's (8443 and 8080 may be taken here), so the
	// file names the onboarding listener, which needs its TLS mode said;
	// -lan picks local-ca by itself when the file says nothing.
	os.WriteFile(cfg, fmt.Appendf(nil, "data_dir = %q\ntls_mode = \"local-ca\"\ntls_lan_addresses = true\ntls_names = [\"localhost\"]\nonboarding_listen = \"127.0.0.1:0\"\n", data), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &hangartest.SyncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "-lan", "-listen", "127.0.0.1:0", "-config", cfg}, nil, io.Discard, stderr)
	}()
	var open, trust, addr []string
	for deadline := time.Now().Add(20 * time.Second); open == nil || addr == nil; time.Sleep(20 * time.Millisecond) {
		out := stderr.String()
		open = regexp.MustCompile(`Open (https://(\S+):(\d+))/ `).FindStringSubmatch(out)
		trust = regexp.MustCompile(`open http://(\S+):(\d+)/trust to trust this server's CA \((\S+)\)`).FindStringSubmatch(out)
		addr = regexp.MustCompile(`addr=(127\.0\.0\.1:(\d+))`).FindStringSubmatch(out)
		if time.Now().After(deadline) {
			t.Fatalf("serve -lan did not say where to go: %s", out)
		}
	}
	if trust == nil {
		t.Fatalf("no trust page address: %s", stderr.String())
	}
	port, ca := addr[2], trust[3]
	if open[3] != port {
		t.Errorf("the URL to open, %s, is not on the port served, %s", open[1], port)
	}
	ip, lanFound := primaryLANAddress()
	if lanFound && open[2] != ip.String() {
		t.Errorf("the URL to open names %s, not the primary LAN address %s", open[2], ip)
	}

	// curl, as a person would, with the printed CA, to this machine's name
	// resolved to loopback.
	out, err := exec.Command("curl", "-sS", "--cacert", ca, "--resolve", host+":"+port+":127.0.0.1", "https://"+host+":"+port+"/healthz").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("curl https://%s:%s/healthz: %v %s", host, port, err, out)
	}
	// The certificate names the LAN address too.
	pem, _ := os.ReadFile(ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: pool, ServerName: host})
	if err != nil {
		t.Fatal(err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if lanFound {
		if err := leaf.VerifyHostname(ip.String()); err != nil {
			t.Errorf("the certificate does not name %s: %v", ip, err)
		}
	}
	// The trust page, on plain HTTP.
	resp, err := http.Get("http://127.0.0.1:" + trust[2] + "/trust")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("trust page: %v %v", resp, err)
	}
	resp.Body.Close()

	// hangar upload, from a machine that trusts the CA only by -cacert.
	admin := firstToken(t, stderr.String())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://localhost:" + port // tls_names, for this
	// In this order: the project needs its workspace.
	for _, pb := range [][2]string{{"/api/v1/workspace", `{"slug":"acme"}`}, {"/api/v1/workspace/acme/project", `{"slug":"app"}`}} {
		path, body := pb[0], pb[1]
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("POST %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	pkg := filepath.Join(t.TempDir(), "App.zip")
	os.WriteFile(pkg, []byte("a desktop build"), 0o600)
	up := []string{"upload", "-server", base, "-token", admin, "-project", "acme/app", pkg}
	if code, out, errOut := hangarCmd(t, up...); code != exitFailure || !strings.Contains(errOut, "-cacert") {
		t.Fatalf("upload without the CA: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := hangarCmd(t, append(up, "-cacert", ca, "-retries", "0")...); code != exitOK || !strings.Contains(out, "status   processed") {
		t.Fatalf("upload with -cacert: exit %d\n%s%s", code, out, errOut)
	}

	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// -lan on the embedded default: every interface on 8443, the local CA,
// the trust page on 8080, this machine's name in the certificate; an
// address given with -listen, a TLS mode or an onboarding address from the
// file stay.
func TestApplyLAN(t *testing.T) {
	cfg := config.Default()
	applyLAN(&cfg, false)
	host, _ := os.Hostname()
	if cfg.Listen != "0.0.0.0:8443" || cfg.TLSMode != "local-ca" || cfg.OnboardingListen != "0.0.0.0:8080" || !slices.Contains(cfg.TLSNames, strings.ToLower(host)) {
		t.Errorf("-lan on the default: %+v", cfg)
	}
	cfg = config.Default()
	cfg.Listen, cfg.TLSMode, cfg.OnboardingListen = "10.0.0.5:9443", "files", ""
	applyLAN(&cfg, true)
	if cfg.Listen != "10.0.0.5:9443" || cfg.TLSMode != "files" || cfg.OnboardingListen != "" {
		t.Errorf("-lan over a configured server: %+v", cfg)
	}
	def := config.Default()
	if def.Listen != "127.0.0.1:8080" || def.TLSMode != "off" {
		t.Errorf("without -lan the default changed: %s %s", def.Listen, def.TLSMode)
	}
}
