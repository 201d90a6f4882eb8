// Package certs provides the HTTPS listener's certificates: a local
// certificate authority that issues and renews the server's certificate
// (for a LAN, where no public CA can), ACME (for a host with a public DNS
// name), or a key pair brought as files.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// CAValidity is the local CA's lifetime: phones trust it once.
	CAValidity = 10 * 365 * 24 * time.Hour
	// ServerValidity stays far inside what Apple accepts for TLS server
	// certificates (398 days for public CAs, 825 for CAs users add), so a
	// later tightening does not break installs.
	ServerValidity = 90 * 24 * time.Hour
	// RenewBefore is how long before its expiry the server certificate
	// is replaced.
	RenewBefore = 30 * 24 * time.Hour
)

// Names are what a certificate vouches for: DNS names and addresses go in
// the server certificate; DNS names and address ranges constrain the CA.
type Names struct {
	DNS    []string
	IPs    []net.IP
	Ranges []*net.IPNet
}

func (n Names) empty() bool { return len(n.DNS) == 0 && len(n.IPs) == 0 }

// LocalCA is a certificate authority kept in DIR/tls (ca.key, ca.crt) and
// the server certificate it issued (server.key, server.crt). The CA is
// name-constrained to the names it was made for, so that a phone that
// trusts it trusts it for this server's names and addresses only.
type LocalCA struct {
	dir   string
	names Names
	now   func() time.Time
	log   *slog.Logger

	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey

	mu   sync.Mutex // renewals
	cert atomic.Pointer[tls.Certificate]
}

// LocalOptions are OpenLocalCA's settings. Configured names must be
// within an existing CA's constraints (else OpenLocalCA fails and says
// what to do); Extra names (the machine's LAN addresses) outside them are
// left out of the server certificate with a warning.
type LocalOptions struct {
	Names, Extra Names
	Now          func() time.Time
	Logger       *slog.Logger
}

// OpenLocalCA loads the CA in dataDir/tls or makes one, then loads the
// server certificate or issues one (again when it is due for renewal or
// its names changed).
func OpenLocalCA(dataDir string, o LocalOptions) (*LocalCA, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(dataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &LocalCA{dir: dir, now: o.Now, log: o.Logger}
	all := merge(o.Names, o.Extra)
	if all.empty() {
		return nil, errors.New("tls: the local CA needs at least one name or address (tls_names)")
	}
	var err error
	if c.ca, c.caKey, err = loadPair(dir, "ca"); errors.Is(err, os.ErrNotExist) {
		if c.ca, c.caKey, err = newCA(all, o.Now()); err != nil {
			return nil, err
		}
		if err := writePair(dir, "ca", c.ca, c.caKey); err != nil {
			return nil, err
		}
		c.log.Info("made a local certificate authority", "fingerprint", c.Fingerprint(), "names", strings.Join(all.strings(), " "))
	} else if err != nil {
		return nil, fmt.Errorf("tls: local CA: %w", err)
	}
	if out := c.outside(o.Names); len(out) > 0 {
		return nil, fmt.Errorf("tls: %s outside the local CA's name constraints (it was made for %s); "+
			"to make a new CA, move %s/ca.key and ca.crt away and restart: testers then trust the new one",
			strings.Join(out, ", "), strings.Join(c.permitted(), " "), dir)
	}
	if out := c.outside(o.Extra); len(out) > 0 {
		c.log.Warn("LAN addresses outside the local CA's name constraints are left out of the certificate", "addresses", strings.Join(out, " "))
		o.Extra = c.within(o.Extra)
	}
	c.names = merge(o.Names, o.Extra)
	if c.names.empty() {
		return nil, errors.New("tls: no name or address left for the server certificate")
	}
	cert, key, err := loadPair(dir, "server")
	if err == nil && !c.due(cert) && sameNames(cert, c.names) && cert.CheckSignatureFrom(c.ca) == nil {
		c.cert.Store(&tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert})
		return c, nil
	}
	if err := c.issue(); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCertificate is tls.Config's: the current server certificate.
func (c *LocalCA) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// Leaf is the server certificate in use.
func (c *LocalCA) Leaf() *x509.Certificate { return c.cert.Load().Leaf }

// CA is the CA's certificate.
func (c *LocalCA) CA() *x509.Certificate { return c.ca }

// CAPEM is the CA's certificate in PEM, for testers to install.
func (c *LocalCA) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.ca.Raw})
}

// Fingerprint is the SHA-256 of the CA certificate, as "AB:CD:…", which
// is how phones and browsers show it.
func (c *LocalCA) Fingerprint() string { return Fingerprint(c.ca) }

// Fingerprint is cert's SHA-256 in colon-separated hex.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// RenewIfDue issues a new server certificate when the current one is
// within RenewBefore of its expiry; new connections get it at once.
func (c *LocalCA) RenewIfDue() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.due(c.Leaf()) {
		return false, nil
	}
	return true, c.issue()
}

// Run checks for renewal every interval until done is closed.
func (c *LocalCA) Run(done <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if renewed, err := c.RenewIfDue(); err != nil {
			c.log.Error("renewing the server certificate failed; the current one is kept", "err", err, "expires", c.Leaf().NotAfter)
		} else if renewed {
			c.log.Info("renewed the server certificate", "expires", c.Leaf().NotAfter)
		}
	}
}

func (c *LocalCA) due(cert *x509.Certificate) bool {
	return c.now().Add(RenewBefore).After(cert.NotAfter)
}

func (c *LocalCA) issue() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := c.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: c.names.strings()[0]},
		DNSNames:     c.names.DNS,
		IPAddresses:  c.names.IPs,
		NotBefore:    now.Add(-time.Hour), // clocks on phones drift
		NotAfter:     now.Add(ServerValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.caKey)
	if err != nil {
		return fmt.Errorf("tls: issue the server certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if err := writePair(c.dir, "server", cert, key); err != nil {
		return err
	}
	c.cert.Store(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert})
	return nil
}

func newCA(n Names, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Hangar local CA (" + host + ")", Organization: []string{"Hangar"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// RFC 5280: a name type with no permitted subtree is unconstrained,
		// so each type gets one: "invalid" (RFC 6761: never resolves)
		// when there is no DNS name, and every address excluded when
		// there is no range.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         n.DNS,
		PermittedIPRanges:           n.Ranges,
	}
	if len(n.DNS) == 0 {
		tmpl.PermittedDNSDomains = []string{"invalid"}
	}
	if len(n.Ranges) == 0 {
		tmpl.ExcludedIPRanges = []*net.IPNet{{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, {IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: make the local CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// outside lists the names of n that the CA may not vouch for.
func (c *LocalCA) outside(n Names) []string {
	var out []string
	for _, d := range n.DNS {
		if !slices.ContainsFunc(c.ca.PermittedDNSDomains, func(p string) bool { return d == p || strings.HasSuffix(d, "."+p) }) {
			out = append(out, d)
		}
	}
	for _, ip := range n.IPs {
		if !slices.ContainsFunc(c.ca.PermittedIPRanges, func(r *net.IPNet) bool { return r.Contains(ip) }) {
			out = append(out, ip.String())
		}
	}
	return out
}

func (c *LocalCA) within(n Names) Names {
	out := c.outside(n)
	var w Names
	for _, d := range n.DNS {
		if !slices.Contains(out, d) {
			w.DNS = append(w.DNS, d)
		}
	}
	for _, ip := range n.IPs {
		if !slices.Contains(out, ip.String()) {
			w.IPs = append(w.IPs, ip)
		}
	}
	return w
}

func (c *LocalCA) permitted() []string {
	var p []string
	for _, d := range c.ca.PermittedDNSDomains {
		if d != "invalid" {
			p = append(p, d)
		}
	}
	for _, r := range c.ca.PermittedIPRanges {
		p = append(p, r.String())
	}
	if len(p) == 0 {
		return []string{"nothing"}
	}
	return p
}

func (n Names) strings() []string {
	s := slices.Clone(n.DNS)
	for _, ip := range n.IPs {
		s = append(s, ip.String())
	}
	return s
}

// merge joins name sets without repeats: configured names first.
func merge(a, b Names) Names {
	var m Names
	for _, n := range []Names{a, b} {
		for _, d := range n.DNS {
			if !slices.Contains(m.DNS, d) {
				m.DNS = append(m.DNS, d)
			}
		}
		for _, ip := range n.IPs {
			if !slices.ContainsFunc(m.IPs, ip.Equal) {
				m.IPs = append(m.IPs, ip)
			}
		}
		for _, r := range n.Ranges {
			if !slices.ContainsFunc(m.Ranges, func(x *net.IPNet) bool { return x.String() == r.String() }) {
				m.Ranges = append(m.Ranges, r)
			}
		}
	}
	return m
}

func sameNames(cert *x509.Certificate, n Names) bool {
	if !slices.Equal(slices.Sorted(slices.Values(cert.DNSNames)), slices.Sorted(slices.Values(n.DNS))) || len(cert.IPAddresses) != len(n.IPs) {
		return false
	}
	for _, ip := range n.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

func loadPair(dir, name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%s/%s.crt or .key is not PEM", dir, name)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("%s/%s.key does not match %s.crt", dir, name, name)
	}
	return cert, key, nil
}

// writePair writes the key (mode 0600) and then the certificate, each
// through a temporary file, fsynced and renamed: a crash leaves the old
// pair or the new one, never half a file.
func writePair(dir, name string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	return nil
}

// Expiring lists the certificates in dataDir/tls that expire within their
// warning window (a year for the CA, RenewBefore less a week for the server
// certificate, which should have been renewed by then), for fsck.
func Expiring(dataDir string, now time.Time) []string {
	var out []string
	for _, f := range []struct {
		name   string
		window time.Duration
	}{{"ca", 365 * 24 * time.Hour}, {"server", RenewBefore - 7*24*time.Hour}} {
		data, err := os.ReadFile(filepath.Join(dataDir, "tls", f.name+".crt"))
		if err != nil {
			continue
		}
		b, _ := pem.Decode(data)
		if b == nil {
			out = append(out, fmt.Sprintf("tls/%s.crt is not a PEM certificate", f.name))
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			out = append(out, fmt.Sprintf("tls/%s.crt: %v", f.name, err))
			continue
		}
		switch left := cert.NotAfter.Sub(now); {
		case left <= 0:
			out = append(out, fmt.Sprintf("tls/%s.crt expired on %s", f.name, cert.NotAfter.UTC().Format(time.DateOnly)))
		case left < f.window:
			out = append(out, fmt.Sprintf("tls/%s.crt expires on %s (in %d days)", f.name, cert.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24)))
		}
	}
	return out
}

// LANAddresses are the machine's addresses that testers on its networks
// can reach (not loopback, link-local or multicast), and the networks
// they are on (the ranges a local CA is constrained to).
func LANAddresses() (Names, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return Names{}, err
	}
	var n Names
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsMulticast() || ipn.IP.IsUnspecified() {
			continue
		}
		ip := ipn.IP
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		n.IPs = append(n.IPs, ip)
		n.Ranges = append(n.Ranges, &net.IPNet{IP: ip.Mask(ipn.Mask), Mask: ipn.Mask})
	}
	return merge(n, Names{}), nil
}
