package hangartest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Slapd is a real LDAP directory (OpenLDAP's slapd) started for one test,
// under dc=example,dc=com, with people in ou=people and groups (of
// names) in ou=groups.
type Slapd struct {
	// LDAPS is the ldaps:// URL when the directory has a certificate
	// (StartSlapdTLS); URL then offers StartTLS.
	LDAPS                  string
	URL                    string // ldap://127.0.0.1:port
	Base                   string
	AdminDN, AdminPassword string
	t                      testing.TB
	stop                   func()
}

// SlapdUser is a person of the directory; Groups are the cn of the groups
// that list them.
type SlapdUser struct {
	UID, Password, Mail string
	Groups              []string
}

// StartSlapd starts slapd on loopback with a generated configuration and
// the users and their groups, for one test. Without slapd the test is
// skipped, except in CI, where .ci/run installs it and its absence fails.
func StartSlapd(t testing.TB, users ...SlapdUser) *Slapd {
	t.Helper()
	return startSlapd(t, "", "", users)
}

// StartSlapdTLS is StartSlapd with a certificate and key (PEM files):
// StartTLS on URL, and implicit TLS on LDAPS.
func StartSlapdTLS(t testing.TB, cert, key string, users ...SlapdUser) *Slapd {
	t.Helper()
	return startSlapd(t, cert, key, users)
}

func startSlapd(t testing.TB, cert, key string, users []SlapdUser) *Slapd {
	t.Helper()
	bin, err := exec.LookPath("slapd")
	if err == nil {
		_, err = exec.LookPath("slapadd")
	}
	if err != nil {
		for _, p := range []string{"/usr/sbin/slapd", "/usr/sbin/slapadd"} {
			if _, serr := os.Stat(p); serr != nil {
				if os.Getenv("CI") == "" {
					t.Skip("SKIPPED: no slapd here (Debian: apt-get install slapd; .ci/run installs it)")
				}
				t.Fatal("slapd is missing: .ci/run installs it")
			}
		}
		bin = "/usr/sbin/slapd"
	}
	slapadd := filepath.Join(filepath.Dir(bin), "slapadd")
	dir := t.TempDir()
	s := &Slapd{Base: "dc=example,dc=com", AdminDN: "cn=admin,dc=example,dc=com", AdminPassword: "directory-secret", t: t}
	conf := filepath.Join(dir, "slapd.conf")
	os.MkdirAll(filepath.Join(dir, "db"), 0o700)
	os.WriteFile(conf, []byte(fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %s/slapd.pid
database mdb
maxsize 16777216
suffix "%s"
rootdn "%s"
rootpw %s
directory %s/db
%s`, dir, s.Base, s.AdminDN, s.AdminPassword, dir, tlsConf(cert, key))), 0o600)

	var ldif strings.Builder
	fmt.Fprintf(&ldif, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", s.Base)
	fmt.Fprintf(&ldif, "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", s.Base)
	fmt.Fprintf(&ldif, "dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n\n", s.Base)
	groups := map[string][]string{}
	var order []string
	for _, u := range users {
		fmt.Fprintf(&ldif, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n", u.UID, s.Base, u.UID, u.UID, u.UID, u.Password)
		if u.Mail != "" {
			fmt.Fprintf(&ldif, "mail: %s\n", u.Mail)
		}
		ldif.WriteString("\n")
		for _, g := range u.Groups {
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], s.UserDN(u.UID))
		}
	}
	for _, g := range order {
		fmt.Fprintf(&ldif, "dn: cn=%s,ou=groups,%s\nobjectClass: groupOfNames\ncn: %s\n", g, s.Base, g)
		for _, m := range groups[g] {
			fmt.Fprintf(&ldif, "member: %s\n", m)
		}
		ldif.WriteString("\n")
	}
	data := filepath.Join(dir, "data.ldif")
	os.WriteFile(data, []byte(ldif.String()), 0o600)
	if out, err := exec.Command(slapadd, "-f", conf, "-l", data).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	for try := 0; ; try++ {
		port := FreePort(t)
		s.URL = "ldap://127.0.0.1:" + strconv.Itoa(port)
		listen := s.URL + "/"
		if cert != "" {
			s.LDAPS = "ldaps://127.0.0.1:" + strconv.Itoa(FreePort(t))
			listen += " " + s.LDAPS + "/"
		}
		cmd := exec.Command(bin, "-f", conf, "-h", listen, "-d", "0")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		var once sync.Once
		s.stop = func() { once.Do(func() { cmd.Process.Kill(); <-exited }) }
		t.Cleanup(s.stop)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if c, err := ldap.DialURL(s.URL); err == nil {
				c.Close()
				return s
			}
			select {
			case <-exited:
				if try < 3 && strings.Contains(out.String(), "in use") {
					goto again
				}
				t.Fatalf("slapd exited: %s", out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("slapd did not start:\n%s", out.String())
			}
		}
	again:
	}
}

// UserDN is the DN of a person.
func (s *Slapd) UserDN(uid string) string { return "uid=" + uid + ",ou=people," + s.Base }

// GroupDN is the DN of a group.
func (s *Slapd) GroupDN(cn string) string { return "cn=" + cn + ",ou=groups," + s.Base }

// Stop stops the directory (an unreachable one).
func (s *Slapd) Stop() { s.stop() }

// Modify changes an entry as the directory's administrator.
func (s *Slapd) Modify(dn string, change func(*ldap.ModifyRequest)) {
	s.t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		s.t.Fatal(err)
	}
	req := ldap.NewModifyRequest(dn, nil)
	change(req)
	if err := c.Modify(req); err != nil {
		s.t.Fatalf("modify %s: %v", dn, err)
	}
}

// tlsConf is slapd.conf's TLS directives for a certificate, if any.
func tlsConf(cert, key string) string {
	if cert == "" {
		return ""
	}
	return "TLSCertificateFile " + cert + "\nTLSCertificateKeyFile " + key + "\n"
}
