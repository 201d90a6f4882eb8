package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hangar/store"
)

type auditEntry struct {
	ID, Time, ClientIP, Action, Workspace string
	Actor, Target                         struct{ Kind, ID, Name string }
	Details                               map[string]any
}

// auditSince returns the entries after the entry with ID last (all when
// ""), oldest first, as GET /api/v1/audit answers them.
func (e *env) auditSince(admin, last string) []auditEntry {
	e.t.Helper()
	var out []auditEntry
	cursor := ""
	for {
		var page struct {
			Entries []auditEntry
			Next    string
		}
		e.mustReq(http.StatusOK, "GET", "/api/v1/audit?limit=50&cursor="+cursor, admin, "", &page)
		for _, en := range page.Entries {
			if en.ID == last {
				return reversed(out)
			}
			out = append(out, en)
		}
		if cursor = page.Next; cursor == "" {
			return reversed(out)
		}
	}
}

func reversed(es []auditEntry) []auditEntry {
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// Every change of who can do what, and every destructive action, leaves
// exactly one entry of its action, naming who did it and from where.
func TestAuditActions(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "wade", "wade-password", "admin")
	wade := e.login("wade", "wade-password")
	up := e.upload(admin, part{"file", "a.txt", "hello"})
	fileID := up.Files[0].FileID

	var linkID, distID, hookID, saID, appTokenPrefix, invitationID, invitationToken string
	var wadeCookie *http.Cookie
	seen := map[string]bool{}
	rows := []struct {
		action string
		actor  string // the actor's name
		do     func()
	}{
		{store.AuditSigninSucceeded, "wade", func() { e.login("wade", "wade-password") }},
		{store.AuditSigninFailed, "", func() {
			e.mustReq(http.StatusUnauthorized, "POST", "/api/v1/auth/login", "", `{"username":"wade","password":"wrong"}`, nil)
		}},
		{store.AuditSessionRevoked, "wade", func() {
			e.mustReq(http.StatusNoContent, "POST", "/api/v1/auth/logout", e.login("wade", "wade-password"), "", nil)
		}},
		{store.AuditUserCreated, "admin", func() {
			e.mustReq(http.StatusCreated, "POST", "/api/v1/user", admin, `{"username":"xena","password":"xena-password"}`, nil)
		}},
		{store.AuditPasswordChanged, "admin", func() {
			e.mustReq(http.StatusNoContent, "PUT", "/api/v1/user/xena/password", admin, `{"password":"other-password"}`, nil)
		}},
		{store.AuditMemberAdded, "wade", func() {
			e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", wade, `{"username":"xena","role":"viewer"}`, nil)
		}},
		{store.AuditMemberRoleChanged, "wade", func() {
			e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", wade, `{"username":"xena","role":"developer"}`, nil)
		}},
		{store.AuditMemberRemoved, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/member/user/xena", wade, "", nil)
		}},
		{store.AuditServiceAcctCreated, "wade", func() { _, saID = e.serviceAccount(wade, "acme", "deployer", "ci") }},
		{store.AuditTokenCreated, "wade", func() {
			var tk struct{ Prefix string }
			e.mustReq(http.StatusCreated, "POST", projPath+"/app-token", wade, `{"name":"ci"}`, &tk)
			appTokenPrefix = tk.Prefix
		}},
		{store.AuditTokenRevoked, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", projPath+"/app-token/"+appTokenPrefix, wade, "", nil)
		}},
		{store.AuditServiceAcctDeleted, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/service-account/"+saID, wade, "", nil)
		}},
		{store.AuditWorkspaceCreated, "admin", func() {
			e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace", admin, `{"slug":"beta"}`, nil)
		}},
		{store.AuditWorkspaceChanged, "admin", func() {
			e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme", admin, `{"storageQuota":1000000}`, nil)
		}},
		{store.AuditProjectCreated, "wade", func() {
			e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/project", wade, `{"slug":"second"}`, nil)
		}},
		{store.AuditProjectChanged, "wade", func() {
			e.mustReq(http.StatusOK, "PATCH", projPath, wade, `{"retention":{"keepBuilds":5}}`, nil)
		}},
		{store.AuditLinkCreated, "wade", func() {
			var l struct{ PublicLinkID string }
			e.mustReq(http.StatusCreated, "POST", projPath+"/build/files/"+fileID+"/public-link", wade, `{}`, &l)
			linkID = l.PublicLinkID
		}},
		{store.AuditLinkDeactivated, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", projPath+"/build/files/"+fileID+"/public-links/"+linkID, wade, "", nil)
		}},
		{store.AuditDistributionCreated, "wade", func() {
			distID = e.distribution(wade, `{"slug":"beta","security":"members"}`).ID
		}},
		{store.AuditDistributionChanged, "wade", func() {
			e.mustReq(http.StatusOK, "PATCH", projPath+"/distribution/"+distID, wade, `{"security":"public"}`, nil)
		}},
		{store.AuditDistributionDeleted, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", projPath+"/distribution/"+distID, wade, "", nil)
		}},
		{store.AuditWebhookCreated, "wade", func() { hookID, _ = e.webhook(wade, projPath, "http://192.0.2.1/hook/secret-path", `"link.created"`) }},
		{store.AuditWebhookChanged, "wade", func() {
			e.mustReq(http.StatusOK, "PATCH", projPath+"/webhook/"+hookID, wade, `{"active":false}`, nil)
		}},
		{store.AuditWebhookDeleted, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", projPath+"/webhook/"+hookID, wade, "", nil)
		}},
		{store.AuditFileDeleted, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", projPath+"/build/file/"+fileID, wade, "", nil)
		}},
		{store.AuditUserInvited, "wade", func() {
			var inv struct{ InvitationID, URL string }
			e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/invitation", wade, `{"email":"yan@example.org","role":"viewer"}`, &inv)
			invitationID, invitationToken = inv.InvitationID, inv.URL[strings.LastIndex(inv.URL, "/")+1:]
		}},
		{store.AuditInvitationRevoked, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/invitation/"+invitationID, wade, "", nil)
		}},
		{store.AuditInvitationAccepted, "zoe", func() {
			var inv struct{ URL string }
			e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/invitation", wade, `{"email":"zoe@example.org","role":"viewer"}`, &inv)
			e.mustReq(http.StatusCreated, "POST", "/api/v1/invitation/"+inv.URL[strings.LastIndex(inv.URL, "/")+1:]+"/accept", "", `{"username":"zoe","password":"zoe-password"}`, nil)
		}},
		{store.AuditUserEmailChanged, "zoe", func() {
			var change struct{ URL string }
			e.mustReq(http.StatusAccepted, "POST", "/api/v1/user/zoe/email", e.login("zoe", "zoe-password"), `{"email":"zoe@new.example.org"}`, &change)
			e.mustReq(http.StatusOK, "POST", "/api/v1/auth/confirm-email/"+change.URL[strings.LastIndex(change.URL, "/")+1:], "", "", nil)
		}},
		{store.AuditUserDisabled, "admin", func() { e.mustReq(http.StatusOK, "POST", "/api/v1/user/zoe/disable", admin, "", nil) }},
		{store.AuditUserEnabled, "admin", func() { e.mustReq(http.StatusOK, "POST", "/api/v1/user/zoe/enable", admin, "", nil) }},
		{store.AuditUserDeleted, "admin", func() { e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/user/zoe", admin, "", nil) }},
		{store.AuditFactorAdded, "wade", func() { wadeCookie = e.signIn("wade", "wade-password"); e.enrolTOTP(wadeCookie) }},
		{store.AuditRecoveryRenewed, "wade", func() {
			e.postForm("/account/recovery", wadeCookie, url.Values{"csrf": {e.csrf(wadeCookie.Value)}}, "same-origin")
		}},
		{store.AuditFactorRemoved, "wade", func() {
			e.postForm("/account/totp/remove", wadeCookie, url.Values{"csrf": {e.csrf(wadeCookie.Value)}}, "same-origin")
		}},
		{store.AuditTesterGroupCreated, "wade", func() {
			e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", wade, `{"slug":"qa","members":["t@example.com"]}`, nil)
		}},
		{store.AuditTesterGroupChanged, "wade", func() {
			e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/tester-group/qa", wade, `{"add":["u@example.com"]}`, nil)
		}},
		{store.AuditTesterSignedOut, "wade", func() {
			e.mustReq(http.StatusNoContent, "POST", "/api/v1/workspace/acme/tester-signout", wade, `{"email":"t@example.com"}`, nil)
		}},
		{store.AuditTesterGroupDeleted, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/tester-group/qa", wade, "", nil)
		}},
		{store.AuditBackupTaken, "admin", func() { e.mustReq(http.StatusOK, "GET", "/api/v1/admin/backup", admin, "", nil) }},
		{store.AuditBuildChanged, "wade", func() {
			e.mustReq(http.StatusOK, "PATCH", projPath+"/build/"+up.BuildID, wade, `{"tags":["rc"]}`, nil)
		}},
		{store.AuditBuildDeleted, "wade", func() {
			e.mustReq(http.StatusNoContent, "DELETE", projPath+"/build/"+up.BuildID, wade, "", nil)
		}},
	}
	last := ""
	if all := e.auditSince(admin, ""); len(all) > 0 {
		last = all[len(all)-1].ID
	}
	for _, row := range rows {
		row.do()
		got := e.auditSince(admin, last)
		if len(got) > 0 {
			last = got[len(got)-1].ID
		}
		var of []auditEntry
		for _, en := range got {
			if en.Action == row.action {
				of = append(of, en)
			}
		}
		if len(of) != 1 {
			t.Errorf("%s: %d entries of it among %d new ones: %+v", row.action, len(of), len(got), got)
			continue
		}
		en := of[0]
		if en.Actor.Name != row.actor || en.ClientIP != "127.0.0.1" {
			t.Errorf("%s: actor %+v from %q, want %q from 127.0.0.1", row.action, en.Actor, en.ClientIP, row.actor)
		}
		raw, _ := json.Marshal(en)
		for _, secret := range []string{"wade-password", "wrong", "xena-password", "other-password", "secret-path", admin, wade} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s: the entry holds %q: %s", row.action, secret, raw)
			}
		}
		seen[row.action] = true
	}
	// The workspace admin reads acme's entries, not beta's.
	var page struct{ Entries []auditEntry }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/audit?limit=1000", wade, "", &page)
	for _, en := range page.Entries {
		if en.Action == store.AuditWorkspaceCreated && en.Target.Name == "beta" {
			t.Error("acme's admin reads beta's creation")
		}
	}
	if len(page.Entries) == 0 {
		t.Error("acme's admin reads no entry of acme")
	}
	for _, q := range []string{"limit=0", "limit=x", "since=yesterday", "cursor=zz"} {
		code, body := e.req("GET", "/api/v1/audit?"+q, admin, "")
		if code != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", q, code, body)
		}
	}
	var members struct{ Entries []auditEntry }
	e.mustReq(http.StatusOK, "GET", "/api/v1/audit?action="+url.QueryEscape("member.")+"&actor=wade", admin, "", &members)
	if len(members.Entries) != 3 {
		t.Errorf("wade's member.* entries: %+v", members.Entries)
	}

	// The export is every entry, one JSON object a line, newest first.
	all := e.auditSince(admin, "")
	code, body := e.req("GET", "/api/v1/audit/export", admin, "")
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if code != http.StatusOK || len(lines) != len(all) {
		t.Fatalf("export: %d, %d lines for %d entries", code, len(lines), len(all))
	}
	var newest auditEntry
	if err := json.Unmarshal([]byte(lines[0]), &newest); err != nil || newest.ID != all[len(all)-1].ID {
		t.Errorf("export's first line %s: %v", lines[0], err)
	}
	code, body = e.req("GET", "/api/v1/workspace/acme/audit/export?action=build.deleted", wade, "")
	if code != http.StatusOK || strings.Count(string(body), "\n") != 1 || !strings.Contains(string(body), `"build.deleted"`) {
		t.Errorf("acme's build.deleted export: %d %s", code, body)
	}
	_ = invitationToken
	// The actions this table cannot reach are recorded where they can be:
	// each is named with the test that checks its entry.
	elsewhere := map[string]string{
		store.AuditPasswordReset:     "TestForgotPassword (needs mail)",
		store.AuditTesterSignedIn:    "TestTesterSignInByLink (needs mail)",
		store.AuditDeviceRemoved:     "TestDeviceRegistration (needs a registered device)",
		store.AuditSigningKeyRotated: "store's TestAuditSigningKey (no route rotates keys)",
	}
	for _, a := range store.AuditActions {
		if !seen[a] && elsewhere[a] == "" {
			t.Errorf("action %s is neither in this table nor checked elsewhere", a)
		}
	}
}
