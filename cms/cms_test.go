package cms_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"hangar/cms"
	"hangar/hangartest"
)

const attrs = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>UDID</key><string>00008030-001A2B3C4D5E6F70</string></dict></plist>`

// opensslSign signs attrs with openssl cms in the form args say.
func opensslSign(t *testing.T, keyArgs []string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is missing")
		}
		t.Skip("SKIPPED: no openssl here")
	}
	dir := t.TempDir()
	key, crt, in, out := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem"), filepath.Join(dir, "in"), filepath.Join(dir, "out")
	gen := append([]string{"req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=device", "-keyout", key, "-out", crt}, keyArgs...)
	if o, err := exec.Command("openssl", gen...).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	os.WriteFile(in, []byte(attrs), 0o600)
	sign := append([]string{"cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-in", in, "-signer", crt, "-inkey", key, "-out", out}, args...)
	if o, err := exec.Command("openssl", sign...).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	b, _ := os.ReadFile(out)
	return b
}

func TestVerifyOpenSSL(t *testing.T) {
	rsaKey := []string{"-newkey", "rsa:2048"}
	ecKey := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}
	for _, tc := range []struct {
		name string
		key  []string
		args []string
	}{
		{"rsa, signed attributes, DER", rsaKey, nil},
		{"rsa, no attributes", rsaKey, []string{"-noattr"}},
		{"rsa, BER streamed (indefinite lengths, chunked content)", rsaKey, []string{"-stream"}},
		{"ecdsa", ecKey, nil},
		{"rsa, sha1", rsaKey, []string{"-md", "sha1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := opensslSign(t, tc.key, tc.args...)
			content, cert, err := cms.Verify(msg)
			if err != nil || string(content) != attrs || cert.Subject.CommonName != "device" {
				t.Fatalf("%q %v", content, err)
			}
			// One byte of the content changed: refused.
			i := bytes.Index(msg, []byte("00008030"))
			if i < 0 {
				t.Fatal("content not found")
			}
			bad := bytes.Clone(msg)
			bad[i] = '1'
			if _, _, err := cms.Verify(bad); !errors.Is(err, cms.ErrSignature) {
				t.Fatalf("tampered: %v", err)
			}
		})
	}
}

func TestVerifyGoSigner(t *testing.T) {
	cert, key := hangartest.DeviceIdentity()
	msg, err := hangartest.SignCMS([]byte(attrs), cert, key)
	if err != nil {
		t.Fatal(err)
	}
	content, got, err := cms.Verify(msg)
	if err != nil || string(content) != attrs || !got.Equal(cert) {
		t.Fatalf("%v", err)
	}
	// Signed by another key than the certificate's.
	_, other := hangartest.DeviceIdentity()
	msg, _ = hangartest.SignCMS([]byte(attrs), cert, other)
	if _, _, err := cms.Verify(msg); !errors.Is(err, cms.ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	for name, msg := range map[string][]byte{
		"empty":       nil,
		"plist":       []byte(attrs),
		"truncated":   {0x30, 0x82, 0x05},
		"oversized":   make([]byte, cms.MaxBytes+1),
		"deep":        bytes.Repeat([]byte{0x30, 0x80}, 100),
		"unsigned":    unsigned(t),
		"not certain": append([]byte{0x30, 0x03, 0x06, 0x01, 0x00}, 0),
	} {
		if _, _, err := cms.Verify(msg); !errors.Is(err, cms.ErrInvalid) && !errors.Is(err, cms.ErrUnsigned) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := cms.Verify(unsigned(t)); !errors.Is(err, cms.ErrUnsigned) {
		t.Errorf("unsigned: %v", err)
	}
}

// unsigned is what openssl makes of attrs without a signer: a SignedData
// with content and no signer info (here by removing the signer).
func unsigned(t *testing.T) []byte {
	cert, key := hangartest.DeviceIdentity()
	msg, _ := hangartest.SignCMS([]byte(attrs), cert, key)
	return stripSigners(t, msg, cert)
}

func stripSigners(t *testing.T, msg []byte, _ *x509.Certificate) []byte {
	t.Helper()
	// The signer infos are the last element of the SignedData: a SET.
	// Rebuild with an empty one via the Go signer's layout.
	i := bytes.LastIndex(msg, []byte{0x31, 0x81})
	if i < 0 {
		i = bytes.LastIndex(msg, []byte{0x31, 0x82})
	}
	if i < 0 {
		t.Fatal("no signer set found")
	}
	out := bytes.Clone(msg[:i])
	out = append(out, 0x31, 0x00)
	return fixLengths(out)
}

// fixLengths rewrites the outer lengths of ContentInfo → [0] →
// SignedData (each with two-byte lengths) after the end moved.
func fixLengths(b []byte) []byte {
	set := func(at int) {
		n := len(b) - at - 4
		b[at+2], b[at+3] = byte(n>>8), byte(n)
	}
	set(0)  // ContentInfo SEQUENCE 30 82 xx xx
	set(15) // [0] a0 82 xx xx
	set(19) // SignedData SEQUENCE 30 82 xx xx
	return b
}

func FuzzVerify(f *testing.F) {
	cert, key := hangartest.DeviceIdentity()
	msg, _ := hangartest.SignCMS([]byte(attrs), cert, key)
	f.Add(msg)
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 20))
	f.Add([]byte{0x24, 0x80, 0x04, 0x01, 'a', 0x04, 0x01, 'b', 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		content, signer, err := cms.Verify(data)
		if err == nil && (len(content) == 0 || signer == nil) {
			t.Fatal("verified without content or signer")
		}
	})
}
