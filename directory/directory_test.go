package directory_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"hangar/config"
	"hangar/directory"
	"hangar/hangartest"
)

func openDirectory(t *testing.T, s *hangartest.Slapd) *directory.Directory {
	t.Helper()
	d, err := directory.New(config.LDAP{URL: s.URL, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
		UserBase: "ou=people," + s.Base, UserFilter: "(&(objectClass=inetOrgPerson)(uid={username})(!(employeeType=disabled)))",
		GroupBase: "ou=groups," + s.Base, GroupFilter: "(&(objectClass=groupOfNames)(member={dn}))",
		UsernameAttr: "uid", EmailAttr: "mail", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestDirectory(t *testing.T) {
	s := hangartest.StartSlapd(t,
		hangartest.SlapdUser{UID: "alice", Password: "alice-password", Mail: "alice@example.com", Groups: []string{"engineering", "qa"}},
		hangartest.SlapdUser{UID: "bob", Password: "bob-password", Groups: []string{"qa", "engineering"}})
	d := openDirectory(t, s)
	ctx := context.Background()
	p, err := d.Authenticate(ctx, "alice", "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	if p.DN != s.UserDN("alice") || p.Email != "alice@example.com" || !slices.Contains(p.Groups, s.GroupDN("engineering")) || len(p.Groups) != 2 {
		t.Fatalf("alice: %+v", p)
	}
	for _, bad := range []struct{ user, pw string }{
		{"alice", "wrong"}, {"alice", ""}, {"nobody", "x"}, {"*", "alice-password"},
		{"*)(uid=*))(|(uid=*", "alice-password"}, {"alice)(uid=bob", "bob-password"},
	} {
		if _, err := d.Authenticate(ctx, bad.user, bad.pw); !errors.Is(err, directory.ErrRefused) {
			t.Errorf("%q / %q: %v, want refused", bad.user, bad.pw, err)
		}
	}
	// A group removed between two sign-ins; an account disabled.
	s.Modify(s.GroupDN("engineering"), func(m *ldap.ModifyRequest) { m.Delete("member", []string{s.UserDN("alice")}) })
	if p, err := d.Lookup(ctx, "alice"); err != nil || len(p.Groups) != 1 {
		t.Fatalf("after leaving engineering: %+v %v", p, err)
	}
	s.Modify(s.UserDN("bob"), func(m *ldap.ModifyRequest) { m.Add("employeeType", []string{"disabled"}) })
	if _, err := d.Authenticate(ctx, "bob", "bob-password"); !errors.Is(err, directory.ErrRefused) {
		t.Errorf("a disabled account: %v", err)
	}
	// An unreachable directory says so.
	s.Stop()
	if _, err := d.Authenticate(ctx, "alice", "alice-password"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("a stopped directory: %v", err)
	}
}

// LDAPS and StartTLS, checked against a CA file; a directory whose
// certificate is not trusted is unavailable, never used in the clear.
func TestDirectoryTLS(t *testing.T) {
	cert, key := hangartest.SelfSigned(t)
	s := hangartest.StartSlapdTLS(t, cert, key, hangartest.SlapdUser{UID: "alice", Password: "alice-password", Groups: []string{"qa"}})
	base := config.LDAP{BindDN: s.AdminDN, BindPassword: s.AdminPassword, UserBase: "ou=people," + s.Base,
		UserFilter: "(uid={username})", UsernameAttr: "uid", EmailAttr: "mail", Timeout: 2 * time.Second}
	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
		ca       string
		ok       bool
	}{
		{"ldaps", s.LDAPS, false, cert, true},
		{"starttls", s.URL, true, cert, true},
		{"ldaps, untrusted", s.LDAPS, false, "", false},
		{"starttls, untrusted", s.URL, true, "", false},
	} {
		cfg := base
		cfg.URL, cfg.StartTLS, cfg.CAFile = tc.url, tc.startTLS, tc.ca
		d, err := directory.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Authenticate(context.Background(), "alice", "alice-password")
		d.Close()
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
