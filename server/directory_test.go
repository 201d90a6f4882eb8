package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-ldap/ldap/v3"

	"hangar/config"
	"hangar/hangartest"
	"hangar/server"
)

// newDirectoryEnv is an env whose people sign in with a real LDAP
// directory: engineering are developers of acme, qa viewers, build-admins
// instance admins.
func newDirectoryEnv(t *testing.T, policy func(*config.Config)) (*env, *hangartest.Slapd) {
	t.Helper()
	s := hangartest.StartSlapd(t,
		hangartest.SlapdUser{UID: "alice", Password: "alice-password", Mail: "alice@example.com", Groups: []string{"engineering", "qa"}},
		hangartest.SlapdUser{UID: "bob", Password: "bob-password", Groups: []string{"qa", "engineering"}},
		hangartest.SlapdUser{UID: "carol", Password: "carol-password", Groups: []string{"build-admins"}})
	e := newEnvWith(t, func(c *config.Config) {
		c.LDAP = config.LDAP{URL: s.URL, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
			UserBase: "ou=people," + s.Base, UserFilter: "(&(objectClass=inetOrgPerson)(uid={username})(!(employeeType=disabled)))",
			GroupBase: "ou=groups," + s.Base, GroupFilter: "(&(objectClass=groupOfNames)(member={dn}))",
			UsernameAttr: "uid", EmailAttr: "mail", Timeout: 2 * time.Second}
		c.GroupRoles = []config.GroupRole{
			{Group: s.GroupDN("engineering"), Workspace: "acme", Role: "developer"},
			{Group: s.GroupDN("qa"), Workspace: "acme", Role: "viewer"},
			{Group: s.GroupDN("build-admins"), InstanceAdmin: true},
		}
		if policy != nil {
			policy(c)
		}
	})
	return e, s
}

// People of the directory sign in with its password, land with the roles
// their groups give, lose them when a group changes (at their next
// sign-in, or the sync), and are refused when the directory disables them.
func TestDirectorySignIn(t *testing.T) {
	e, s := newDirectoryEnv(t, nil)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`) // a local account

	alice := e.login("alice", "alice-password")
	var members []struct{ Name, Role, Rule string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/member", admin, "", &members)
	if len(members) != 1 || members[0].Name != "alice" || members[0].Role != "developer" || members[0].Rule != s.GroupDN("engineering") {
		t.Fatalf("after alice's first sign-in: %+v", members)
	}
	var u struct{ Email, Source string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme", alice, "", nil)
	var users []struct{ Username, Email, Source string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/user", admin, "", &users)
	for _, x := range users {
		if x.Username == "alice" {
			u.Email, u.Source = x.Email, x.Source
		}
	}
	if u.Email != "alice@example.com" || u.Source != "ldap" {
		t.Errorf("alice as a user: %+v", u)
	}
	// Her role is the directory's: not edited by hand.
	code, body := e.req("PUT", "/api/v1/workspace/acme/member", admin, `{"username":"alice","role":"viewer"}`)
	if code != http.StatusConflict || !strings.Contains(string(body), "ROLE_FROM_DIRECTORY") {
		t.Errorf("editing a rule's role: %d %s", code, body)
	}
	code, body = e.req("PUT", "/api/v1/user/alice/password", admin, `{"password":"local-password"}`)
	if code != http.StatusConflict {
		t.Errorf("setting a directory user's password here: %d %s", code, body)
	}

	// Wrong passwords, strangers and filter injection are refused alike.
	_, wrong := e.req("POST", "/api/v1/auth/login", "", `{"username":"root","password":"not-roots"}`)
	for _, bad := range []string{`{"username":"alice","password":"wrong"}`, `{"username":"nobody","password":"x"}`,
		`{"username":"*)(uid=*))(|(uid=*","password":"alice-password"}`, `{"username":"alice","password":""}`} {
		code, body := e.req("POST", "/api/v1/auth/login", "", bad)
		if code != http.StatusUnauthorized || string(body) != string(wrong) {
			t.Errorf("%s: %d %s, want %s", bad, code, body, wrong)
		}
	}

	// carol's group makes her an instance admin.
	carol := e.login("carol", "carol-password")
	e.mustReq(http.StatusOK, "GET", "/api/v1/user", carol, "", nil)

	// Alice leaves engineering: at her next sign-in she is a viewer, and
	// the session she had ends (she lost a right).
	s.Modify(s.GroupDN("engineering"), func(m *ldap.ModifyRequest) { m.Delete("member", []string{s.UserDN("alice")}) })
	alice2 := e.login("alice", "alice-password")
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace/acme", alice, "", nil)
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/member", admin, "", &members)
	if len(members) != 1 || members[0].Role != "viewer" || members[0].Rule != s.GroupDN("qa") {
		t.Fatalf("after leaving engineering: %+v", members)
	}
	// The sync takes the rest away without a sign-in: out of qa, no role.
	s.Modify(s.GroupDN("qa"), func(m *ldap.ModifyRequest) { m.Delete("member", []string{s.UserDN("alice")}) })
	if err := server.SyncDirectoryOnce(e.srv); err != nil {
		t.Fatal(err)
	}
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", alice2, "", nil)
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/member", admin, "", &members)
	if len(members) != 0 {
		t.Fatalf("after leaving qa: %+v", members)
	}

	// bob is disabled in the directory: refused at once, and the sync ends
	// the session he had.
	bob := e.login("bob", "bob-password")
	s.Modify(s.UserDN("bob"), func(m *ldap.ModifyRequest) { m.Add("employeeType", []string{"disabled"}) })
	e.mustReq(http.StatusUnauthorized, "POST", "/api/v1/auth/login", "", `{"username":"bob","password":"bob-password"}`, nil)
	if err := server.SyncDirectoryOnce(e.srv); err != nil {
		t.Fatal(err)
	}
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", bob, "", nil)

	// The audit log says which rule did what, and how people signed in.
	found := map[string]bool{}
	for _, en := range e.auditSince(admin, "") {
		if rule, _ := en.Details["rule"].(string); rule != "" {
			found[en.Action+" "+en.Target.Name+" by "+rule] = true
		}
		if en.Action == "signin.succeeded" && en.Details["method"] == "ldap" {
			found["ldap sign-in "+en.Target.Name] = true
		}
	}
	for _, want := range []string{"member.added alice by " + s.GroupDN("engineering"), "member.role_changed alice by " + s.GroupDN("qa"),
		"member.removed alice by " + s.GroupDN("qa"), "ldap sign-in alice", "ldap sign-in carol"} {
		if !found[want] {
			t.Errorf("no %q in the audit log (%v)", want, found)
		}
	}

	// An unreachable directory says so; the local account still signs in.
	s.Stop()
	code, body = e.req("POST", "/api/v1/auth/login", "", `{"username":"alice","password":"alice-password"}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "DIRECTORY_UNAVAILABLE") {
		t.Errorf("a stopped directory: %d %s", code, body)
	}
	e.login("root", "root-password")
	resp := e.postForm("/signin", nil, map[string][]string{"username": {"alice"}, "password": {"alice-password"}}, "same-origin")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("the console's sign-in with a stopped directory: %d", resp.StatusCode)
	}
}

// With external sign-in only, local passwords open nothing but the
// break-glass account.
func TestExternalOnly(t *testing.T) {
	e, _ := newDirectoryEnv(t, func(c *config.Config) { c.ExternalOnly, c.BreakGlass = true, "root" })
	admin := e.adminToken()
	e.mustReq(http.StatusCreated, "POST", "/api/v1/user", admin, `{"username":"root","password":"root-password","admin":true}`, nil)
	e.mustReq(http.StatusCreated, "POST", "/api/v1/user", admin, `{"username":"vic","password":"vic-password"}`, nil)
	e.mustReq(http.StatusUnauthorized, "POST", "/api/v1/auth/login", "", `{"username":"vic","password":"vic-password"}`, nil)
	e.login("root", "root-password")
	e.login("alice", "alice-password")
}

// The members page shows which roles the directory's groups give, and
// offers no hand edit of them.
func TestDirectoryMembersInBrowser(t *testing.T) {
	needBrowser(t)
	e, _ := newDirectoryEnv(t, nil)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"root","role":"admin"}`, nil)
	e.login("alice", "alice-password")
	shots := shotsDir(t)
	ctx := browser(t, "")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/signin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "root"), chromedp.SendKeys(chromedp.ID("password"), "root-password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("a.who")),
		chromedp.Navigate(e.ts.URL+"/w/acme/members"), chromedp.WaitVisible(chromedp.CSS("table")), shootSizes(shots, "members-directory")); err != nil {
		t.Fatal(err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("tbody tr:nth-child(1)")))
	if err != nil || !strings.Contains(row, "alice") || !strings.Contains(row, "from the directory") || strings.Contains(row, "Remove") {
		t.Errorf("alice's row: %q %v", row, err)
	}
}
