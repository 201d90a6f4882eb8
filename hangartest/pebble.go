package hangartest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FreePort is a loopback port nothing listens on (for a server that
// takes its address from a file).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Pebble starts Let's Encrypt's test ACME server on loopback, its HTTPS
// under a certificate made here, validating TLS-ALPN-01 challenges on
// tlsPort and HTTP-01 ones on httpPort (names resolve to 127.0.0.1). It
// returns the directory URL, the PEM file of that
// certificate and the root the issued certificates chain to.
func Pebble(t testing.TB, tlsPort, httpPort int) (dir, roots string, issuer *x509.CertPool) {
	t.Helper()
	if _, err := exec.LookPath("pebble"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("SKIPPED: no pebble here (go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1; .ci/run installs it)")
		}
		t.Fatal("pebble is missing: .ci/run installs it")
	}
	work := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "pebble"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	roots = filepath.Join(work, "cert.pem")
	os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(work, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	dns := loopbackDNS(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	// A port FreePort found free may be taken by the time Pebble binds it
	// (other tests run beside this one): then Pebble exits, and is started
	// again on other ports.
	for try := 1; ; try++ {
		api, mgmt := FreePort(t), FreePort(t)
		cfg := fmt.Sprintf(`{"pebble": {"listenAddress": "127.0.0.1:%d", "managementListenAddress": "127.0.0.1:%d",
			"certificate": %q, "privateKey": %q, "httpPort": %d, "tlsPort": %d, "ocspResponderURL": "",
			"externalAccountBindingRequired": false, "keyAlgorithm": "ecdsa",
			"profiles": {"default": {"description": "default", "validityPeriod": 7776000}}}}`,
			api, mgmt, roots, filepath.Join(work, "key.pem"), httpPort, tlsPort)
		os.WriteFile(filepath.Join(work, "pebble.json"), []byte(cfg), 0o600)
		cmd := exec.Command("pebble", "-config", filepath.Join(work, "pebble.json"), "-dnsserver", dns)
		// No wait before validating; every nonce good (the ACME client
		// would retry a rejected one, but the test should not depend on
		// that).
		cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
		out := &SyncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			if t.Failed() {
				t.Logf("pebble:\n%s", out.String())
			}
		})
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
			if err == nil {
				root, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				issuer = x509.NewCertPool()
				if resp.StatusCode == 200 && issuer.AppendCertsFromPEM(root) {
					return fmt.Sprintf("https://127.0.0.1:%d/dir", api), roots, issuer
				}
			}
			select {
			case <-exited:
				if try < 3 && strings.Contains(out.String(), "address already in use") {
					break // start it again, on other ports
				}
				t.Fatalf("pebble exited: %s", out.String())
			default:
				if time.Now().After(deadline) {
					t.Fatalf("pebble did not start: %v\n%s", err, out.String())
				}
				continue
			}
			break
		}
	}
}

// loopbackDNS answers every A query with 127.0.0.1 and every other query
// with no record, over UDP and TCP (Pebble asks over TCP) on one loopback
// port: enough for Pebble's validation authority to find the listener
// under test by its name.
func loopbackDNS(t testing.TB) string {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close(); pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	go func() {
		for {
			conn, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				for {
					var size [2]byte
					if _, err := io.ReadFull(conn, size[:]); err != nil {
						return
					}
					q := make([]byte, int(size[0])<<8|int(size[1]))
					if _, err := io.ReadFull(conn, q); err != nil {
						return
					}
					resp := dnsAnswer(q)
					if resp == nil {
						return
					}
					conn.Write(append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...))
				}
			}()
		}
	}()
	return tl.Addr().String()
}

// dnsAnswer answers one DNS query message.
func dnsAnswer(q []byte) []byte {
	n, i := len(q), 12
	for i < n && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if n < 12 || i+5 > n {
		return nil
	}
	qtype := int(q[i+1])<<8 | int(q[i+2])
	resp := append([]byte{q[0], q[1], 0x84 | q[2]&0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, q[12:i+5]...)
	if qtype == 1 { // A
		resp[7] = 1
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
	}
	return resp
}
