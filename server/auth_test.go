package server_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hangar/config"
	"hangar/server"
	"hangar/store"
)

// What each role may do, as docs/design.md states it (kept apart from package
// auth on purpose: this is the specification the server is checked against).
var rolePerms = map[string][]string{
	"viewer":    {"PROJECT_READ", "BUILD_DOWNLOAD"},
	"ci":        {"PROJECT_READ", "BUILD_CREATE", "BUILD_DOWNLOAD"},
	"developer": {"PROJECT_READ", "BUILD_CREATE", "BUILD_DOWNLOAD", "BUILD_DELETE", "BUILD_CREATE_LINKS", "BUILD_SHARE_OPENLY"},
	"admin":     {"PROJECT_READ", "BUILD_CREATE", "BUILD_DOWNLOAD", "BUILD_DELETE", "BUILD_CREATE_LINKS", "WORKSPACE_ADMIN", "BUILD_SHARE_OPENLY"},
}

// What an app token may do in its own project, by scope (the README's
// "App tokens"): never download, never read beyond build status and
// publications, publish only as its scope says.
var scopePerms = map[string][]string{
	"app":         {"BUILD_CREATE"},
	"app-publish": {"BUILD_CREATE", "BUILD_CREATE_LINKS"},
	"app-openly":  {"BUILD_CREATE", "BUILD_CREATE_LINKS", "BUILD_SHARE_OPENLY"},
}

// holds reports whether perms include every one of need ("A|B").
func holds(perms []string, need string) bool {
	for _, n := range strings.Split(need, "|") {
		if !slices.Contains(perms, n) {
			return false
		}
	}
	return true
}

func roleHas(role, perm string) bool { return holds(rolePerms[role], perm) }

// TestPermissionMatrix calls every authenticated route as every kind of
// caller and checks the exact status.
func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/project", admin, `{"slug":"other-app"}`, nil) // acme/app exists
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace", admin, `{"slug":"rival"}`, nil)
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/rival/project", admin, `{"slug":"secret"}`, nil)
	e.newUser(admin, `{"username":"bob","password":"bob-password"}`)

	callers := map[string]string{"admin": admin, "none": ""}
	roleOf := map[string]string{}
	for _, role := range []string{"viewer", "ci", "developer", "admin"} {
		tok, _ := e.serviceAccount(admin, "acme", "sa-"+role, role)
		callers["sa-"+role] = tok
		roleOf["sa-"+role] = role
	}
	e.member(admin, "vera", "vera-password", "developer")
	callers["session-developer"] = e.login("vera", "vera-password")
	roleOf["session-developer"] = "developer"
	e.member(admin, "val", "val-password", "viewer")
	callers["session-viewer"] = e.login("val", "val-password")
	roleOf["session-viewer"] = "viewer"

	for caller, scope := range map[string]string{"app": "", "app-publish": "publish", "app-openly": "publish-openly"} {
		var app struct{ Token, Scope string }
		e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/project/app/app-token", admin, fmt.Sprintf(`{"name":"ci","scope":%q}`, scope), &app)
		if want := cmp.Or(scope, "upload"); app.Scope != want {
			t.Fatalf("app token scope: got %q, want %q", app.Scope, want)
		}
		callers[caller] = app.Token
	}
	revoked, revokedID := e.serviceAccount(admin, "acme", "gone", "admin")
	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/service-account/"+revokedID, admin, "", nil)
	callers["revoked"] = revoked

	n := 0
	uniq := func() string { n++; return fmt.Sprint(n) }
	// fresh creates a service account (or token) for routes that consume one.
	freshSA := func() string { _, id := e.serviceAccount(admin, "acme", "tmp"+uniq(), "viewer"); return id }
	freshSAToken := func() string {
		id := freshSA()
		var tk struct{ Prefix string }
		e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/service-account/"+id+"/token", admin, "", &tk)
		return id + "/token/" + tk.Prefix
	}
	// Accounts that reach beyond acme: admin in rival and a viewer in
	// acme; the bootstrap instance-admin account made a member of acme.
	freshSharedSA := func() string {
		_, id := e.serviceAccount(admin, "rival", "shared"+uniq(), "admin")
		e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, fmt.Sprintf(`{"kind":"service-account","id":%q,"role":"viewer"}`, id), nil)
		return id
	}
	sas, _ := e.store.ServiceAccounts()
	bootstrapID := ""
	for _, sa := range sas {
		if sa.Admin {
			bootstrapID = sa.ID
		}
	}
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, fmt.Sprintf(`{"kind":"service-account","id":%q,"role":"viewer"}`, bootstrapID), nil)
	freshAppToken := func() string {
		var tk struct{ Prefix string }
		e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/project/app/app-token", admin, "", &tk)
		return tk.Prefix
	}
	freshMember := func() string {
		name := "m" + uniq()
		e.newUser(admin, fmt.Sprintf(`{"username":%q,"password":"long-password"}`, name))
		e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, fmt.Sprintf(`{"username":%q,"role":"viewer"}`, name), nil)
		return name
	}

	// A build with one file and one link, for the read-only routes, and
	// fresh ones for the routes that consume them. The file is a zip, not
	// a package, so that the build is processed at once.
	freshFile := func() (buildID, fileID string) {
		var b struct {
			BuildID string
			Files   []struct{ FileID string }
		}
		ctype, body := multipartBody(t, part{"file", "app.zip", "content " + uniq()})
		code, out := e.send("POST", projPath+"/build", admin, ctype, body)
		if code != 201 || json.Unmarshal(out, &b) != nil {
			t.Fatalf("upload: %d %s", code, out)
		}
		return b.BuildID, b.Files[0].FileID
	}
	freshLink := func(fileID string) string {
		var l struct{ PublicLinkID string }
		e.mustReq(http.StatusCreated, "POST", projPath+"/build/files/"+fileID+"/public-link", admin, `{}`, &l)
		return l.PublicLinkID
	}
	buildID, fileID := freshFile()
	releaseOf := func(buildID string) string {
		b, err := e.store.Build(buildID)
		if err != nil {
			t.Fatal(err)
		}
		return strconv.FormatUint(b.Seq, 10)
	}
	// App Center's release uploads, each of an uploader of its own (one
	// has at most ten unfinished).
	acme, _ := e.store.WorkspaceBySlug("acme")
	acmeApp, _ := e.store.ProjectBySlug(acme.ID, "app")
	freshUpload := func() string {
		u, _, err := e.store.CreateReleaseUpload(store.ReleaseUpload{ProjectID: acmeApp.ID, WorkspaceID: acme.ID, Uploader: "matrix-" + uniq()})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	acUpload := freshUpload()
	freshSymbols := func() string {
		u, _, err := e.store.CreateReleaseUpload(store.ReleaseUpload{Symbols: true, ProjectID: acmeApp.ID, WorkspaceID: acme.ID, Uploader: "matrix-" + uniq()})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	testersUUID := func() string {
		var g struct{ ID string }
		e.mustReq(http.StatusOK, "GET", "/v0.1/apps/acme/app/distribution_groups/testers", admin, "", &g)
		return g.ID
	}
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"testers"}`, nil)
	freshTesterGroup := func() string {
		slug := "t" + uniq()
		e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"`+slug+`"}`, nil)
		return slug
	}
	freshUser := func() string {
		name := "f" + uniq()
		e.mustReq(http.StatusCreated, "POST", "/api/v1/user", admin, fmt.Sprintf(`{"username":%q,"password":"long-password"}`, name), nil)
		return name
	}
	freshInvitation := func(path string) string {
		var inv struct{ InvitationID string }
		e.mustReq(http.StatusCreated, "POST", path, admin, `{"email":"x`+uniq()+`@example.org","role":"viewer"}`, &inv)
		return inv.InvitationID
	}
	freshDist := func() string {
		var d struct{ ID string }
		e.mustReq(http.StatusCreated, "POST", projPath+"/distribution", admin, fmt.Sprintf(`{"slug":"d%s"}`, uniq()), &d)
		return d.ID
	}
	distID := freshDist()
	var membersDist string
	{
		var d struct{ ID string }
		e.mustReq(http.StatusCreated, "POST", projPath+"/distribution", admin, `{"slug":"members-only","security":"members"}`, &d)
		membersDist = d.ID
	}
	freshDevice := func() string {
		ws, err := e.store.WorkspaceBySlug("acme")
		if err != nil {
			t.Fatal(err)
		}
		n++
		udid := fmt.Sprintf("00008030-%016X", n)
		if _, err := e.store.RegisterDevice(store.Device{UDID: udid, WorkspaceID: ws.ID}); err != nil {
			t.Fatal(err)
		}
		return udid
	}
	// Fresh webhooks (for the routes that delete one) want an event the
	// test never causes: the hundreds of builds it uploads would otherwise
	// each write a delivery to every one of them still standing.
	freshWebhook := func(scope string) string {
		var w struct{ ID string }
		e.mustReq(http.StatusCreated, "POST", scope+"/webhook", admin, `{"url":"http://192.0.2.1/hook","events":["link.limit_reached"]}`, &w)
		return w.ID
	}
	var projHook, wsHook string
	for _, h := range []struct {
		scope string
		id    *string
	}{{projPath, &projHook}, {"/api/v1/workspace/acme", &wsHook}} {
		var w struct{ ID string }
		e.mustReq(http.StatusCreated, "POST", h.scope+"/webhook", admin, `{"url":"http://192.0.2.1/hook","events":["link.created"]}`, &w)
		*h.id = w.ID
	}
	freshLink(fileID) // an event for both: a delivery to redeliver
	deliveryOf := func(hook string) string {
		ds, _, err := e.store.Deliveries(hook, store.Page{Limit: 1})
		if err != nil || len(ds) == 0 {
			t.Fatalf("no delivery for %s: %v", hook, err)
		}
		return ds[0].ID
	}
	projDelivery, wsDelivery := deliveryOf(projHook), deliveryOf(wsHook)
	// Organization API forms: a build's package in a "build" part, an
	// attachment in a "file" part (req sends "--b" bodies as multipart).
	form := func(field string) func() string {
		return func() string {
			return "--b\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"n.txt\"\r\n\r\nnotes " + uniq() +
				"\r\n--b\r\nContent-Disposition: form-data; name=\"versionName\"\r\n\r\n1.0\r\n--b--\r\n"
		}
	}
	buildForm, fileForm := form("build"), form("file")
	linkID := freshLink(fileID)

	type endpoint struct {
		method string
		path   func() string
		body   func() string
		need   string // "signedIn", "instanceAdmin", or a permission in acme
		ok     int
		// otherWorkspace: the path is in "rival", where only the instance
		// admin is a member.
		otherWorkspace bool
		// project: the path names acme/app, the app token's project.
		project bool
	}
	fixed := func(s string) func() string { return func() string { return s } }
	none := fixed("")
	endpoints := []endpoint{
		{"GET", fixed("/api/v1/user"), none, "instanceAdmin", 200, false, false},
		{"POST", fixed("/api/v1/user"), func() string { return fmt.Sprintf(`{"username":"u%s","password":"long-password"}`, uniq()) }, "instanceAdmin", 201, false, false},
		{"PUT", fixed("/api/v1/user/bob/password"), fixed(`{"password":"new-password"}`), "instanceAdmin", 204, false, false},
		{"GET", fixed("/api/v1/token"), none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/api/v1/audit"), none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/api/v1/audit/export"), none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/api/v1/workspace/acme/audit/export"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"POST", fixed("/api/v1/workspace/acme/tester-group"), func() string { return `{"slug":"g` + uniq() + `"}` }, "BUILD_CREATE_LINKS", 201, false, false},
		{"GET", fixed("/api/v1/workspace/acme/tester-group"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"GET", fixed("/api/v1/workspace/acme/tester-group/testers"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"PATCH", fixed("/api/v1/workspace/acme/tester-group/testers"), fixed(`{"add":["p@example.com"]}`), "BUILD_CREATE_LINKS", 200, false, false},
		{"DELETE", func() string { return "/api/v1/workspace/acme/tester-group/" + freshTesterGroup() }, none, "BUILD_CREATE_LINKS", 204, false, false},
		{"POST", fixed("/api/v1/workspace/acme/tester-group/testers/members.csv"), none, "BUILD_CREATE_LINKS", 415, false, false},
		{"POST", fixed("/api/v1/workspace/acme/tester-signout"), fixed(`{"email":"p@example.com"}`), "BUILD_CREATE_LINKS", 204, false, false},
		{"POST", fixed("/api/v1/tester-signout"), fixed(`{"email":"p@example.com"}`), "instanceAdmin", 204, false, false},
		{"GET", fixed("/w/acme/testers"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"POST", fixed("/w/acme/testers"), func() string { return "slug=c" + uniq() }, "BUILD_CREATE_LINKS", 303, false, false},
		{"GET", fixed("/w/acme/testers/testers"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"POST", fixed("/w/acme/testers/testers/add"), fixed("addresses=q%40example.com"), "BUILD_CREATE_LINKS", 303, false, false},
		{"POST", fixed("/w/acme/testers/testers/remove"), fixed("address=q%40example.com"), "BUILD_CREATE_LINKS", 303, false, false},
		{"POST", fixed("/w/acme/testers/testers/signout"), fixed("address=q%40example.com"), "BUILD_CREATE_LINKS", 303, false, false},
		{"GET", fixed("/w/acme/testers/testers/delete"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"POST", func() string { return "/w/acme/testers/" + freshTesterGroup() + "/delete" }, none, "BUILD_CREATE_LINKS", 303, false, false},
		{"GET", fixed("/audit"), none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/audit/export"), none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/w/acme/audit"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"GET", fixed("/w/acme/audit/export"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"POST", fixed("/api/v1/user/bob/email"), fixed(`{"email":"bob@example.org"}`), "self", 202, false, false},
		{"POST", func() string { return "/api/v1/user/" + freshUser() + "/disable" }, none, "instanceAdmin", 200, false, false},
		{"POST", func() string { return "/api/v1/user/" + freshUser() + "/enable" }, none, "instanceAdmin", 200, false, false},
		{"DELETE", func() string { return "/api/v1/user/" + freshUser() }, none, "instanceAdmin", 204, false, false},
		{"POST", fixed("/api/v1/invitation"), func() string { return `{"email":"i` + uniq() + `@example.org"}` }, "instanceAdmin", 201, false, false},
		{"GET", fixed("/api/v1/invitation"), none, "instanceAdmin", 200, false, false},
		{"DELETE", func() string { return "/api/v1/invitation/" + freshInvitation("/api/v1/invitation") }, none, "instanceAdmin", 204, false, false},
		{"POST", fixed("/api/v1/workspace/acme/invitation"), func() string { return `{"email":"w` + uniq() + `@example.org","role":"viewer"}` }, "WORKSPACE_ADMIN", 201, false, false},
		{"POST", fixed("/api/v1/workspace/rival/invitation"), func() string { return `{"email":"r` + uniq() + `@example.org","role":"viewer"}` }, "WORKSPACE_ADMIN", 201, true, false},
		{"GET", fixed("/api/v1/workspace/acme/invitation"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"DELETE", func() string {
			return "/api/v1/workspace/acme/invitation/" + freshInvitation("/api/v1/workspace/acme/invitation")
		}, none, "WORKSPACE_ADMIN", 204, false, false},
		{"GET", fixed("/api/v1/workspace/acme/audit"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"GET", fixed("/api/v1/workspace/rival/audit"), none, "WORKSPACE_ADMIN", 200, true, false},
		{"GET", fixed("/api/v1/admin/backup"), none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/metrics"), none, "instanceAdmin", 200, false, false},
		{"POST", fixed("/api/v1/admin/fsck"), fixed(`{"verify":true}`), "instanceAdmin", 200, false, false},
		{"POST", fixed("/api/v1/admin/gc"), none, "instanceAdmin", 200, false, false},
		{"DELETE", func() string { return "/api/v1/token/" + freshAppToken() }, none, "instanceAdmin", 204, false, false},
		{"POST", fixed("/api/v1/workspace"), func() string { return fmt.Sprintf(`{"slug":"ws%s"}`, uniq()) }, "instanceAdmin", 201, false, false},
		{"GET", fixed("/api/v1/workspace"), none, "signedIn", 200, false, false},
		{"PATCH", fixed("/api/v1/workspace/acme"), fixed(`{"storageQuota": 0}`), "instanceAdmin", 200, false, false},
		{"GET", fixed("/api/v1/workspace/acme"), none, "PROJECT_READ", 200, false, false},
		{"GET", fixed("/api/v1/workspace/rival"), none, "PROJECT_READ", 200, true, false},
		{"GET", fixed("/api/v1/workspace/acme/member"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"PUT", fixed("/api/v1/workspace/acme/member"), fixed(`{"username":"bob","role":"viewer"}`), "WORKSPACE_ADMIN", 200, false, false},
		{"DELETE", func() string { return "/api/v1/workspace/acme/member/user/" + freshMember() }, none, "WORKSPACE_ADMIN", 204, false, false},
		{"POST", fixed("/api/v1/workspace/acme/service-account"), fixed(`{"name":"x","role":"viewer"}`), "WORKSPACE_ADMIN", 201, false, false},
		{"GET", fixed("/api/v1/workspace/acme/service-account"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"DELETE", func() string { return "/api/v1/workspace/acme/service-account/" + freshSA() }, none, "WORKSPACE_ADMIN", 204, false, false},
		{"POST", func() string { return "/api/v1/workspace/acme/service-account/" + freshSA() + "/token" }, none, "WORKSPACE_ADMIN", 201, false, false},
		{"DELETE", func() string { return "/api/v1/workspace/acme/service-account/" + freshSAToken() }, none, "WORKSPACE_ADMIN", 204, false, false},
		// Escalation paths: tokens of accounts that reach beyond acme, and
		// adding another workspace's account, are for the instance admin.
		{"POST", func() string { return "/api/v1/workspace/acme/service-account/" + freshSharedSA() + "/token" }, none, "instanceAdmin", 201, false, false},
		{"DELETE", func() string {
			id := freshSharedSA()
			var tk struct{ Prefix string }
			e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/service-account/"+id+"/token", admin, "", &tk)
			return "/api/v1/workspace/acme/service-account/" + id + "/token/" + tk.Prefix
		}, none, "instanceAdmin", 204, false, false},
		{"POST", fixed("/api/v1/workspace/acme/service-account/" + bootstrapID + "/token"), none, "instanceAdmin", 201, false, false},
		{"DELETE", fixed("/api/v1/workspace/acme/service-account/" + bootstrapID + "/token/no-such-prefix"), none, "instanceAdmin", 404, false, false},
		{"PUT", fixed("/api/v1/workspace/acme/member"), func() string {
			_, id := e.serviceAccount(admin, "rival", "other"+uniq(), "admin")
			return fmt.Sprintf(`{"kind":"service-account","id":%q,"role":"admin"}`, id)
		}, "instanceAdmin", 200, false, false},
		{"POST", fixed("/api/v1/workspace/acme/project"), func() string { return fmt.Sprintf(`{"slug":"p%s"}`, uniq()) }, "WORKSPACE_ADMIN", 201, false, false},
		{"POST", fixed("/api/v1/workspace/rival/project"), func() string { return fmt.Sprintf(`{"slug":"p%s"}`, uniq()) }, "WORKSPACE_ADMIN", 201, true, false},
		{"GET", fixed("/api/v1/workspace/acme/project"), none, "PROJECT_READ", 200, false, false},
		{"GET", fixed("/api/v1/workspace/acme/project/app"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed("/api/v1/workspace/acme/project/other-app"), none, "PROJECT_READ", 200, false, false},
		{"PATCH", fixed("/api/v1/workspace/acme/project/app"), fixed(`{"name":"App"}`), "WORKSPACE_ADMIN", 200, false, true},
		{"GET", fixed("/api/v1/workspace/rival/project/secret"), none, "PROJECT_READ", 200, true, false},
		{"POST", fixed("/api/v1/workspace/acme/project/app/app-token"), none, "WORKSPACE_ADMIN", 201, false, true},
		{"GET", fixed("/api/v1/workspace/acme/project/app/app-token"), none, "WORKSPACE_ADMIN", 200, false, true},
		{"DELETE", func() string { return "/api/v1/workspace/acme/project/app/app-token/" + freshAppToken() }, none, "WORKSPACE_ADMIN", 204, false, true},

		{"POST", fixed(projPath + "/build"), fixed(`{"version":"1.0"}`), "BUILD_CREATE", 201, false, true},
		{"GET", fixed(projPath + "/build"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed(projPath + "/build/" + buildID), none, "PROJECT_READ", 200, false, true},
		{"PATCH", fixed(projPath + "/build/" + buildID), fixed(`{"notes":"n"}`), "BUILD_CREATE", 200, false, true},
		{"POST", fixed(projPath + "/build/" + buildID + "/file?name=notes.txt"), fixed("notes"), "BUILD_CREATE", 201, false, true},
		{"GET", fixed(projPath + "/build/" + buildID + "/file"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed(projPath + "/build/" + buildID + "/files"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed(projPath + "/build/file/" + fileID), none, "BUILD_DOWNLOAD", 200, false, true},
		{"DELETE", func() string { _, f := freshFile(); return projPath + "/build/file/" + f }, none, "BUILD_DELETE", 204, false, true},
		{"DELETE", func() string { b, _ := freshFile(); return projPath + "/build/" + b }, none, "BUILD_DELETE", 204, false, true},
		{"POST", fixed(projPath + "/build/files/" + fileID + "/public-link"), fixed(`{}`), "BUILD_CREATE_LINKS|BUILD_SHARE_OPENLY", 201, false, true},
		{"GET", fixed(projPath + "/build/" + buildID + "/public-links"), none, "BUILD_DOWNLOAD", 200, false, true},
		{"DELETE", func() string { return projPath + "/build/files/" + fileID + "/public-links/" + freshLink(fileID) }, none, "BUILD_DELETE", 204, false, true},
		{"GET", fixed(projPath + "/build/files/" + fileID + "/public-links/" + linkID + "/access-log"), none, "PROJECT_READ", 200, false, true},

		{"POST", fixed(projPath + "/distribution"), func() string { return fmt.Sprintf(`{"slug":"n%s","security":"members"}`, uniq()) }, "BUILD_CREATE_LINKS", 201, false, true},
		{"POST", fixed(projPath + "/distribution"), func() string { return fmt.Sprintf(`{"slug":"n%s","security":"public"}`, uniq()) }, "BUILD_CREATE_LINKS|BUILD_SHARE_OPENLY", 201, false, true},
		{"GET", fixed(projPath + "/distribution"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed(projPath + "/distribution/" + distID), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed(projPath + "/distribution/" + distID + "/installs"), none, "BUILD_CREATE_LINKS", 200, false, true},
		{"GET", fixed(projPath + "/build/" + buildID + "/installs?format=csv"), none, "BUILD_CREATE_LINKS", 200, false, true},
		{"GET", fixed("/api/v1/workspace/acme/tester-installs?tester=ana@example.com"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"GET", fixed(projPath + "/build/" + buildID + "/feedback"), none, "BUILD_CREATE_LINKS", 200, false, true},
		{"GET", fixed("/v0.1/apps/acme/app"), none, "PROJECT_READ", 200, false, true},
		{"POST", fixed("/v0.1/apps/acme/app/uploads/releases"), fixed(`{"build_version":"1.0"}`), "BUILD_CREATE", 201, false, true},
		{"GET", fixed("/v0.1/apps/acme/app/uploads/releases/" + acUpload), none, "BUILD_CREATE", 200, false, true},
		{"PATCH", func() string { return "/v0.1/apps/acme/app/uploads/releases/" + freshUpload() }, fixed(`{"upload_status":"cancelled"}`), "BUILD_CREATE", 200, false, true},
		{"GET", fixed("/v0.1/apps/acme/app/releases"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed("/v0.1/apps/acme/app/releases/" + releaseOf(buildID)), none, "PROJECT_READ", 200, false, true},
		{"PUT", fixed("/v0.1/apps/acme/app/releases/" + releaseOf(buildID)), fixed(`{"release_notes":"n"}`), "BUILD_CREATE", 200, false, true},
		{"PATCH", fixed("/v0.1/apps/acme/app/releases/" + releaseOf(buildID)), fixed(`{"release_notes":"n"}`), "BUILD_CREATE", 200, false, true},
		{"DELETE", func() string { b, _ := freshFile(); return "/v0.1/apps/acme/app/releases/" + releaseOf(b) }, none, "BUILD_DELETE", 200, false, true},
		{"GET", fixed("/v0.1/apps/acme/app/distribution_groups"), none, "PROJECT_READ", 200, false, true},
		{"POST", fixed("/v0.1/apps/acme/app/symbol_uploads"), fixed(`{"symbol_type":"Apple"}`), "BUILD_CREATE", 200, false, true},
		{"PATCH", func() string { return "/v0.1/apps/acme/app/symbol_uploads/" + freshSymbols() }, fixed(`{"status":"aborted"}`), "BUILD_CREATE", 200, false, true},
		{"POST", fixed("/v0.1/orgs/acme/distribution_groups/testers/apps"), fixed(`{"apps":[]}`), "BUILD_CREATE_LINKS", 409, false, false},
		{"GET", fixed("/v0.1/apps/acme/app/distribution_groups/testers"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed("/v0.1/apps/acme/app/distribution_groups/testers/members"), none, "BUILD_CREATE_LINKS", 200, false, true},
		{"POST", fixed("/v0.1/apps/acme/app/releases/" + releaseOf(buildID) + "/groups"), func() string { return `{"id":"` + testersUUID() + `"}` }, "BUILD_CREATE_LINKS", 201, false, true},
		{"PUT", fixed("/api/v1/workspace/acme/feedback-mail"), fixed(`{"enabled":false}`), "BUILD_CREATE_LINKS", 204, false, false},
		{"PATCH", fixed(projPath + "/distribution/" + distID), fixed(`{"showHistory":true}`), "BUILD_CREATE_LINKS|BUILD_SHARE_OPENLY", 200, false, true}, // a public page
		{"PATCH", fixed(projPath + "/distribution/" + membersDist), fixed(`{"showHistory":true}`), "BUILD_CREATE_LINKS", 200, false, true},
		{"DELETE", func() string { return projPath + "/distribution/" + freshDist() }, none, "BUILD_DELETE", 204, false, true},
		{"GET", fixed(projPath + "/distribution/" + distID + "/access-log"), none, "PROJECT_READ", 200, false, true},

		{"GET", fixed("/api/v1/workspace/acme/device"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed("/api/v1/workspace/acme/device/export"), none, "PROJECT_READ", 200, false, true},
		{"DELETE", func() string { return "/api/v1/workspace/acme/device/" + freshDevice() }, none, "WORKSPACE_ADMIN", 204, false, true},
		{"POST", fixed(projPath + "/webhook"), fixed(`{"url":"https://hooks.example/x","events":["build.processed"]}`), "WORKSPACE_ADMIN", 201, false, true},
		{"GET", fixed(projPath + "/webhook"), none, "WORKSPACE_ADMIN", 200, false, true},
		{"GET", fixed(projPath + "/webhook/" + projHook), none, "WORKSPACE_ADMIN", 200, false, true},
		{"PATCH", fixed(projPath + "/webhook/" + projHook), fixed(`{"format":"json"}`), "WORKSPACE_ADMIN", 200, false, true},
		{"DELETE", func() string { return projPath + "/webhook/" + freshWebhook(projPath) }, none, "WORKSPACE_ADMIN", 204, false, true},
		{"GET", fixed(projPath + "/webhook/" + projHook + "/deliveries"), none, "WORKSPACE_ADMIN", 200, false, true},
		{"POST", fixed(projPath + "/webhook/" + projHook + "/deliveries/" + projDelivery + "/redeliver"), none, "WORKSPACE_ADMIN", 202, false, true},
		{"POST", fixed("/api/v1/workspace/acme" + "/webhook"), fixed(`{"url":"https://hooks.example/x","events":["build.processed"]}`), "WORKSPACE_ADMIN", 201, false, false},
		{"GET", fixed("/api/v1/workspace/acme" + "/webhook"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"GET", fixed("/api/v1/workspace/acme" + "/webhook/" + wsHook), none, "WORKSPACE_ADMIN", 200, false, false},
		{"PATCH", fixed("/api/v1/workspace/acme" + "/webhook/" + wsHook), fixed(`{"format":"json"}`), "WORKSPACE_ADMIN", 200, false, false},
		{"DELETE", func() string { return "/api/v1/workspace/acme" + "/webhook/" + freshWebhook("/api/v1/workspace/acme") }, none, "WORKSPACE_ADMIN", 204, false, false},
		{"GET", fixed("/api/v1/workspace/acme" + "/webhook/" + wsHook + "/deliveries"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"POST", fixed("/api/v1/workspace/acme" + "/webhook/" + wsHook + "/deliveries/" + wsDelivery + "/redeliver"), none, "WORKSPACE_ADMIN", 202, false, false},

		// The organization API.
		{"GET", fixed(appPath + "/builds/" + buildID), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed(appPath + "/builds/" + buildID + "/downloadToken?type=auto"), none, "BUILD_DOWNLOAD", 200, false, true},
		{"GET", fixed("/v1/organizations/rival/apps/secret/builds/x"), none, "PROJECT_READ", 404, true, false},
		{"POST", fixed(appPath + "/builds"), buildForm, "BUILD_CREATE", 201, false, true},
		{"POST", fixed(appPath + "/builds/" + buildID + "/files"), fileForm, "BUILD_CREATE", 201, false, true},
		{"GET", fixed("/v1/organizations/acme/apps"), none, "PROJECT_READ", 200, false, false},
		{"GET", fixed(appPath), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed(appPath + "/builds"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed("/v1/organizations/rival/apps"), none, "PROJECT_READ", 200, true, false},
		{"GET", fixed("/v1/integrations/builds"), none, "appToken", 200, false, true},
		{"GET", fixed("/v1/integrations/builds/" + buildID), none, "appToken", 200, false, true},
		{"GET", fixed("/v1/integrations/distributions"), none, "appToken", 200, false, true},
		// An app token publishes only as its scope says: members-only
		// pages with "publish", open ones with "publish-openly" (without
		// security, the narrowest page it may make).
		{"POST", fixed("/v1/integrations/distributions"), func() string { return `{"slug":"i` + uniq() + `"}` }, "appToken:BUILD_CREATE_LINKS", 201, false, true},
		{"POST", fixed("/v1/integrations/distributions"), func() string { return `{"slug":"i` + uniq() + `","security":"logged"}` }, "appToken:BUILD_CREATE_LINKS", 201, false, true},
		{"POST", fixed("/v1/integrations/distributions"), func() string { return `{"slug":"i` + uniq() + `","security":"public"}` }, "appToken:BUILD_CREATE_LINKS|BUILD_SHARE_OPENLY", 201, false, true},
		{"POST", fixed("/v1/integrations/distributions"), func() string { return `{"slug":"i` + uniq() + `","security":"password","password":"secret-pw"}` }, "appToken:BUILD_CREATE_LINKS|BUILD_SHARE_OPENLY", 201, false, true},
		{"POST", fixed("/v1/integrations/builds"), buildForm, "appToken", 201, false, true},
		{"POST", fixed("/v1/integrations/builds/" + buildID + "/files"), fileForm, "appToken", 201, false, true},

		// Console pages: the caller's token goes in the session cookie.
		// Only a login session is taken there; anyone else is sent to the
		// sign-in page (303).
		{"GET", fixed("/"), none, "signedIn", 200, false, false},
		{"GET", fixed("/account"), none, "signedIn", 200, false, false},
		{"GET", fixed("/users"), none, "instanceAdmin", 200, false, false},
		// Confirmations of what cannot be undone: the GET of each such
		// action's address, under its POST's rule.
		{"GET", func() string { return "/tokens/" + freshAppToken() + "/revoke" }, none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/users/bob/password"), none, "instanceAdmin", 200, false, false},
		{"GET", fixed("/w/acme/members/user/bob/remove"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"GET", func() string { return "/w/acme/service-accounts/" + freshSA() + "/remove" }, none, "WORKSPACE_ADMIN", 200, false, false},
		{"GET", func() string { return "/w/acme/p/app/settings/app-token/" + freshAppToken() + "/revoke" }, none, "WORKSPACE_ADMIN", 200, false, true},
		{"GET", func() string { return "/w/acme/devices/" + freshDevice() + "/remove" }, none, "WORKSPACE_ADMIN", 200, false, false},
		{"GET", fixed("/w/acme/webhooks/" + wsHook + "/delete"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"GET", fixed("/w/acme/p/app/webhooks/" + projHook + "/delete"), none, "WORKSPACE_ADMIN", 200, false, true},
		{"GET", fixed("/w/acme/p/app/d/" + distID + "/delete"), none, "BUILD_DELETE", 200, false, true},
		{"GET", fixed("/w/acme/p/app/b/" + buildID + "/file/" + fileID + "/delete"), none, "BUILD_DELETE", 200, false, true},
		{"GET", fixed("/w/acme/p/app/b/" + buildID + "/link/" + linkID + "/deactivate"), none, "BUILD_DELETE", 200, false, true},
		{"GET", fixed("/tokens"), none, "instanceAdmin", 200, false, false},
		{"POST", func() string { return "/tokens/" + freshAppToken() + "/revoke" }, none, "instanceAdmin", 303, false, false},
		{"POST", fixed("/users"), func() string { return "username=cu" + uniq() }, "instanceAdmin", 303, false, false},
		{"POST", fixed("/users/bob/password"), none, "instanceAdmin", 303, false, false},
		{"POST", fixed("/invitations"), func() string { return "email=ci" + uniq() + "@example.org" }, "instanceAdmin", 303, false, false},
		{"GET", func() string { return "/invitations/" + freshInvitation("/api/v1/invitation") + "/revoke" }, none, "instanceAdmin", 200, false, false},
		{"POST", func() string { return "/invitations/" + freshInvitation("/api/v1/invitation") + "/revoke" }, none, "instanceAdmin", 303, false, false},
		{"GET", fixed("/users/bob/disable"), none, "instanceAdmin", 200, false, false},
		{"POST", func() string { return "/users/" + freshUser() + "/disable" }, none, "instanceAdmin", 303, false, false},
		{"POST", func() string { return "/users/" + freshUser() + "/enable" }, none, "instanceAdmin", 303, false, false},
		{"GET", fixed("/users/bob/delete"), none, "instanceAdmin", 200, false, false},
		{"POST", func() string { return "/users/" + freshUser() + "/delete" }, none, "instanceAdmin", 303, false, false},
		{"POST", fixed("/w/acme/invitations"), func() string { return "email=cw" + uniq() + "@example.org&role=viewer" }, "WORKSPACE_ADMIN", 303, false, false},
		{"GET", func() string {
			return "/w/acme/invitations/" + freshInvitation("/api/v1/workspace/acme/invitation") + "/revoke"
		}, none, "WORKSPACE_ADMIN", 200, false, false},
		{"POST", func() string {
			return "/w/acme/invitations/" + freshInvitation("/api/v1/workspace/acme/invitation") + "/revoke"
		}, none, "WORKSPACE_ADMIN", 303, false, false},
		{"POST", fixed("/workspace"), func() string { return "slug=cw" + uniq() }, "instanceAdmin", 303, false, false},
		{"POST", fixed("/w/acme/project"), func() string { return "slug=cp" + uniq() }, "WORKSPACE_ADMIN", 303, false, false},
		{"POST", fixed("/w/acme/quota"), fixed("quota=0"), "instanceAdmin", 303, false, false},
		{"GET", fixed("/w/acme/members"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"POST", fixed("/w/acme/service-accounts"), func() string { return "name=csa" + uniq() + "&role=viewer" }, "WORKSPACE_ADMIN", 303, false, false},
		{"POST", func() string { return "/w/acme/service-accounts/" + freshSA() + "/token" }, none, "WORKSPACE_ADMIN", 303, false, false},
		{"POST", func() string { return "/w/acme/service-accounts/" + freshSA() + "/remove" }, none, "WORKSPACE_ADMIN", 303, false, false},
		{"POST", fixed("/w/acme/members"), fixed("username=bob&role=viewer"), "WORKSPACE_ADMIN", 303, false, false},
		{"POST", func() string { return "/w/acme/members/user/" + freshMember() + "/remove" }, none, "WORKSPACE_ADMIN", 303, false, false},
		{"POST", fixed("/w/rival/project"), func() string { return "slug=cp" + uniq() }, "WORKSPACE_ADMIN", 303, true, false},
		{"POST", fixed("/account/password"), fixed("current=x&password=new-password&confirm=other-password"), "signedIn", 400, false, false},
		{"POST", fixed("/account/email"), fixed("email=not-an-address"), "signedIn", 400, false, false},
		{"POST", fixed("/account/sessions/nosuchsession/end"), none, "signedIn", 404, false, false},
		{"GET", fixed("/account/totp"), none, "signedIn", 200, false, false},
		{"POST", fixed("/account/totp"), fixed("code=000000"), "signedIn", 400, false, false},
		{"GET", fixed("/account/totp/remove"), none, "signedIn", 200, false, false},
		{"POST", fixed("/account/totp/remove"), none, "signedIn", 404, false, false},
		{"POST", fixed("/account/recovery"), none, "signedIn", 400, false, false},
		{"POST", fixed("/account/passkeys/begin"), fixed("name=laptop"), "signedIn", 400, false, false}, // on an address: no passkeys
		{"POST", fixed("/account/passkeys/finish"), none, "signedIn", 400, false, false},
		{"GET", fixed("/account/passkeys/nosuch/remove"), none, "signedIn", 200, false, false},
		{"POST", fixed("/account/passkeys/nosuch/remove"), none, "signedIn", 404, false, false},
		{"GET", fixed("/api/v1/auth/session"), none, "session", 200, false, false},
		{"DELETE", fixed("/api/v1/auth/session/nosuchsession"), none, "session", 404, false, false},
		{"GET", fixed("/w/acme"), none, "PROJECT_READ", 200, false, false},
		{"GET", fixed("/w/rival"), none, "PROJECT_READ", 200, true, false},
		{"GET", fixed("/w/acme/p/app"), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed("/w/acme/p/app/b/" + buildID), none, "PROJECT_READ", 200, false, true},
		{"POST", fixed("/w/acme/p/app/b/" + buildID + "/edit"), fixed("tags=a&notes=n"), "BUILD_CREATE", 303, false, true},
		{"GET", fixed("/w/acme/devices"), none, "PROJECT_READ", 200, false, false},
		{"GET", fixed("/w/acme/devices/export"), none, "PROJECT_READ", 200, false, false},
		{"POST", func() string { return "/w/acme/devices/" + freshDevice() + "/remove" }, none, "WORKSPACE_ADMIN", 303, false, false},
		{"GET", fixed("/w/acme/webhooks"), none, "WORKSPACE_ADMIN", 200, false, false},
		{"POST", fixed("/w/acme/webhooks"), fixed("url=https%3A%2F%2Fchat.example%2Fw&events=build.processed&format=slack"), "WORKSPACE_ADMIN", 303, false, false},
		{"GET", fixed("/w/acme/webhooks/" + wsHook), none, "WORKSPACE_ADMIN", 200, false, false},
		{"POST", fixed("/w/acme/webhooks/" + wsHook), fixed("url=http%3A%2F%2F192.0.2.1%2Fhook&events=link.created&format=json&active=1"), "WORKSPACE_ADMIN", 303, false, false},
		{"POST", func() string { return "/w/acme/webhooks/" + freshWebhook("/api/v1/workspace/acme") + "/delete" }, none, "WORKSPACE_ADMIN", 303, false, false},
		{"POST", fixed("/w/acme/webhooks/" + wsHook + "/deliveries/" + wsDelivery + "/redeliver"), none, "WORKSPACE_ADMIN", 303, false, false},
		{"GET", fixed("/w/acme/p/app/webhooks"), none, "WORKSPACE_ADMIN", 200, false, true},
		{"POST", fixed("/w/acme/p/app/webhooks"), fixed("url=https%3A%2F%2Fchat.example%2Fh&events=build.processed&format=json"), "WORKSPACE_ADMIN", 303, false, true},
		{"GET", fixed("/w/acme/p/app/webhooks/" + projHook), none, "WORKSPACE_ADMIN", 200, false, true},
		{"POST", fixed("/w/acme/p/app/webhooks/" + projHook), fixed("url=http%3A%2F%2F192.0.2.1%2Fhook&events=build.created&events=link.created&format=json&active=1"), "WORKSPACE_ADMIN", 303, false, true},
		{"POST", func() string { return "/w/acme/p/app/webhooks/" + freshWebhook(projPath) + "/delete" }, none, "WORKSPACE_ADMIN", 303, false, true},
		{"POST", fixed("/w/acme/p/app/webhooks/" + projHook + "/deliveries/" + projDelivery + "/redeliver"), none, "WORKSPACE_ADMIN", 303, false, true},
		{"GET", fixed("/w/acme/p/app/d"), none, "PROJECT_READ", 200, false, true},
		{"POST", fixed("/w/acme/p/app/d"), func() string { return "slug=c" + uniq() + "&filterType=latest&security=public" }, "BUILD_CREATE_LINKS", 303, false, true},
		{"GET", fixed("/w/acme/p/app/d/" + distID), none, "PROJECT_READ", 200, false, true},
		{"GET", fixed("/w/acme/p/app/d/" + distID + "/installs.csv"), none, "BUILD_CREATE_LINKS", 200, false, true},
		{"GET", fixed("/w/acme/p/app/b/" + buildID + "/installs.csv"), none, "BUILD_CREATE_LINKS", 200, false, true},
		{"GET", fixed("/w/acme/installs?tester=ana@example.com"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"GET", fixed("/w/acme/installs.csv?tester=ana@example.com"), none, "BUILD_CREATE_LINKS", 200, false, false},
		{"POST", fixed("/w/acme/feedback-mail"), none, "BUILD_CREATE_LINKS", 303, false, false},
		{"POST", func() string { d, _ := e.store.Distribution(distID); return "/w/acme/p/app/d/" + d.Slug }, func() string {
			d, _ := e.store.Distribution(distID)
			return "slug=" + d.Slug + "&filterType=latest&security=public&showHistory=1"
		}, "BUILD_CREATE_LINKS", 303, false, true},
		{"POST", func() string { return "/w/acme/p/app/d/" + freshDist() + "/delete" }, none, "BUILD_DELETE", 303, false, true},
		{"GET", fixed("/w/acme/p/app/upload"), none, "BUILD_CREATE", 200, false, true},
		{"GET", fixed("/w/acme/p/app/settings"), none, "WORKSPACE_ADMIN", 200, false, true},
		{"POST", fixed("/w/acme/p/app/settings/retention"), fixed("default=1"), "WORKSPACE_ADMIN", 303, false, true},
		{"POST", fixed("/w/acme/p/app/settings/app-token"), fixed("name=ci"), "WORKSPACE_ADMIN", 303, false, true},
		{"POST", func() string { return "/w/acme/p/app/settings/app-token/" + freshAppToken() + "/revoke" }, none, "WORKSPACE_ADMIN", 303, false, true},
		{"POST", fixed("/w/acme/p/app/upload"), func() string {
			return "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\nzip " + uniq() + "\r\n--b--\r\n"
		}, "BUILD_CREATE", 303, false, true},
		// Forms: a session posts them with its CSRF token (see below).
		{"POST", fixed("/w/acme/p/app/b/" + buildID + "/link"), fixed("file=" + fileID), "BUILD_CREATE_LINKS", 303, false, true},
		{"GET", fixed("/w/acme/p/app/b/" + buildID + "/link/" + linkID), none, "PROJECT_READ", 200, false, true},
		{"POST", fixed("/w/acme/p/app/b/" + buildID + "/attach"), func() string {
			return "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"n.txt\"\r\n\r\nnotes " + uniq() + "\r\n--b--\r\n"
		}, "BUILD_CREATE", 303, false, true},
		{"POST", func() string { b, f := freshFile(); return "/w/acme/p/app/b/" + b + "/file/" + f + "/delete" }, none, "BUILD_DELETE", 303, false, true},
		{"POST", func() string { return "/w/acme/p/app/b/" + buildID + "/link/" + freshLink(fileID) + "/deactivate" }, none, "BUILD_DELETE", 303, false, true},
		{"GET", fixed("/w/acme/p/app/b/" + buildID + "/delete"), none, "BUILD_DELETE", 200, false, true},
		{"POST", func() string { b, _ := freshFile(); return "/w/acme/p/app/b/" + b + "/delete" }, none, "BUILD_DELETE", 303, false, true},

		// Last: it ends the session it is called with.
		{"POST", fixed("/api/v1/auth/logout"), none, "session", 204, false, false},
		// After it: signing out of the console (the session is gone by now,
		// so it is the sign-in page for everyone; TestConsoleSignInAndPages
		// signs out of a live session).
		{"POST", fixed("/signout"), none, "signedIn", 303, false, false},
	}

	isPage := func(path string) bool {
		return path == "/" || path == "/signout" || path == "/workspace" || strings.HasPrefix(path, "/users") || strings.HasPrefix(path, "/invitations") || strings.HasPrefix(path, "/audit") || strings.HasPrefix(path, "/tokens") || strings.HasPrefix(path, "/account") || strings.HasPrefix(path, "/w/")
	}
	// expect states the rule of docs/design.md's "Permissions" section.
	expect := func(ep endpoint, caller string) int {
		session := strings.HasPrefix(caller, "session-")
		switch {
		case isPage(ep.path()) && !session:
			return http.StatusSeeOther
		case isPage(ep.path()) && ep.otherWorkspace:
			return 404
		case isPage(ep.path()) && ep.need == "signedIn":
			return ep.ok
		case caller == "none" || caller == "revoked":
			return 401
		case ep.need == "self": // a user's own: bob's, whom no caller is
			return 403
		case ep.need == "session": // a login session ends itself; other tokens are revoked instead
			switch {
			case scopePerms[caller] != nil:
				return 403
			case strings.HasPrefix(caller, "session-"):
				return ep.ok
			}
			return 400
		case strings.HasPrefix(ep.need, "appToken"): // the integrations API: app tokens only, as their scope says
			scope, isApp := scopePerms[caller]
			_, need, _ := strings.Cut(ep.need, ":")
			if isApp && (need == "" || holds(scope, need)) {
				return ep.ok
			}
			return 403
		case caller == "admin":
			return ep.ok
		case ep.otherWorkspace && ep.need != "signedIn" && ep.need != "instanceAdmin":
			return 404 // not a member: the workspace is not revealed
		case ep.need == "instanceAdmin":
			return 403
		case ep.need == "signedIn":
			if scopePerms[caller] != nil {
				return 403
			}
			return ep.ok
		case scopePerms[caller] != nil:
			// Its own workspace is visible; other projects in it are not;
			// in its project it holds what its scope grants.
			if !ep.project && strings.Contains(ep.path(), "/project/") && !strings.HasSuffix(ep.path(), "/project") {
				return 404
			}
			if ep.project && holds(scopePerms[caller], ep.need) {
				return ep.ok
			}
			return 403
		case roleHas(roleOf[caller], ep.need):
			return ep.ok
		default:
			return 403
		}
	}

	// Every route of the table that needs a credential has a row here:
	// a route added without one fails this test.
	covered := map[string]bool{}
	for _, ep := range endpoints {
		if rt, ok := routeOf(server.Routes(e.srv), ep.method, ep.path()); ok {
			covered[rt.Method+" "+rt.Pattern] = true
		}
	}
	for _, rt := range server.Routes(e.srv) {
		if !rt.Public && !covered[rt.Method+" "+rt.Pattern] {
			t.Errorf("route %s %s has no row in the permission matrix", rt.Method, rt.Pattern)
		}
	}

	for _, ep := range endpoints {
		for caller, token := range callers {
			path, body := ep.path(), ep.body()
			t.Run(ep.method+" "+path+" as "+caller, func(t *testing.T) {
				var code int
				var b []byte
				if !isPage(path) {
					code, b = e.req(ep.method, path, token, body)
				} else {
					form := body
					if ep.method == http.MethodPost && strings.HasPrefix(caller, "session-") {
						if strings.HasPrefix(form, "--b\r\n") { // multipart: the token is the first part
							form = "--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + e.csrf(token) + "\r\n" + form
						} else {
							form += "&csrf=" + e.csrf(token)
						}
					}
					code, b = e.page(ep.method, path, token, form)
				}
				if want := expect(ep, caller); code != want {
					t.Fatalf("got %d, want %d; body %s", code, want, b)
				}
			})
		}
	}
}

func TestUnauthorizedShapes(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer hgr_unknown_token", "Bearer not-even-ours"} {
		r, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/workspace", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("Authorization %q: got %d (WWW-Authenticate %q), want 401", h, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		wantWorkspaceError(t, b, "UNAUTHORIZED")
	}
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"alice","password":"alice-password"}`)

	var out struct {
		Token     string
		ExpiresAt time.Time
	}
	e.mustReq(http.StatusOK, "POST", "/api/v1/auth/login", "", `{"username":"alice","password":"alice-password"}`, &out)
	if !strings.HasPrefix(out.Token, "hgr_") || out.ExpiresAt.Sub(e.clock()) != config.Default().SessionTTL {
		t.Fatalf("login: got %+v", out)
	}
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace", out.Token, "", nil)

	// The session expires with the configured TTL.
	e.advance(config.Default().SessionTTL)
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", out.Token, "", nil)
	e.advance(-config.Default().SessionTTL)

	e.mustReq(http.StatusNoContent, "POST", "/api/v1/auth/logout", out.Token, "", nil)
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", out.Token, "", nil)
	e.mustReq(http.StatusBadRequest, "POST", "/api/v1/auth/logout", admin, "", nil) // not a session

	// Changing the password ends every session of the user.
	s1 := e.login("alice", "alice-password")
	e.mustReq(http.StatusNoContent, "PUT", "/api/v1/user/alice/password", s1, `{"password":"new-alice-password"}`, nil)
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", s1, "", nil)
	e.login("alice", "new-alice-password")

	for _, body := range []string{`{"username":"alice"`, `{"username":"alice","password":"x","extra":1}`, `[]`, ``} {
		code, b := e.req("POST", "/api/v1/auth/login", "", body)
		if code != http.StatusBadRequest {
			t.Errorf("login body %q: got %d, want 400; %s", body, code, b)
		}
	}
	e.mustReq(http.StatusBadRequest, "POST", "/api/v1/user", admin, `{"username":"short","password":"1234567"}`, nil)
	e.mustReq(http.StatusConflict, "POST", "/api/v1/user", admin, `{"username":"alice","password":"long-enough"}`, nil)
}

// An unknown user and a wrong password must cost the same: both run one
// argon2id derivation, and both get the same answer.
func TestLoginUnknownUserStillHashes(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"alice","password":"alice-password"}`)

	before := e.hasher.Derivations()
	code1, wrong := e.req("POST", "/api/v1/auth/login", "", `{"username":"alice","password":"wrong-password"}`)
	mid := e.hasher.Derivations()
	code2, unknown := e.req("POST", "/api/v1/auth/login", "", `{"username":"mallory","password":"wrong-password"}`)
	after := e.hasher.Derivations()

	if mid-before != 1 || after-mid != 1 {
		t.Fatalf("derivations: wrong password %d, unknown user %d; want 1 and 1", mid-before, after-mid)
	}
	if code1 != 401 || code2 != 401 || string(wrong) != string(unknown) {
		t.Fatalf("answers differ: %d %s vs %d %s", code1, wrong, code2, unknown)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	login := func(user, ip string) (int, string) {
		r, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/auth/login", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":"nope-nope"}`, user)))
		r.Header.Set("X-Forwarded-For", ip)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}

	// Per IP: 10 attempts (with different usernames), then 429.
	for i := 0; i < 10; i++ {
		if code, _ := login(fmt.Sprint("user", i), "10.0.0.1"); code != 401 {
			t.Fatalf("attempt %d from one IP: got %d, want 401", i+1, code)
		}
	}
	code, retry := login("user-x", "10.0.0.1")
	if code != 429 || retry != "6" {
		t.Fatalf("11th attempt from one IP: got %d, Retry-After %q; want 429, 6", code, retry)
	}
	if code, _ := login("user-y", "10.0.0.2"); code != 401 {
		t.Fatalf("another IP: got %d, want 401", code)
	}

	// Per username and address: 5 failures, then 429 from that address
	// only; after a refill, one more.
	for i := 0; i < 5; i++ {
		if code, _ := login("target", "10.1.0.1"); code != 401 {
			t.Fatalf("attempt %d on one user: got %d, want 401", i+1, code)
		}
	}
	if code, retry := login("target", "10.1.0.1"); code != 429 || retry != "12" {
		t.Fatalf("6th attempt on one user from one address: got %d, Retry-After %q; want 429, 12", code, retry)
	}
	if code, _ := login("target", "10.1.0.2"); code != 401 {
		t.Fatalf("the same user from another address: got %d, want 401", code)
	}
	e.advance(12 * time.Second)
	if code, _ := login("target", "10.1.0.1"); code != 401 {
		t.Fatalf("after the refill: got %d, want 401", code)
	}
}

// aliceBehindProxy is a server behind a trusted proxy with a user alice,
// and a login as alice from a client address (X-Forwarded-For).
func aliceBehindProxy(t *testing.T) (*env, func(password, ip string) int) {
	e := newProxiedEnv(t)
	e.newUser(e.adminToken(), `{"username":"alice","password":"alice-password"}`)
	return e, func(password, ip string) int {
		code, _ := e.req("POST", "/api/v1/auth/login", "", fmt.Sprintf(`{"username":"alice","password":%q}`, password), "X-Forwarded-For", ip)
		return code
	}
}

// Nobody can lock a user out: an attacker failing on alice's name from one
// address, one try every few seconds for as long as they like, does not
// stop alice logging in from hers; correct logins are not counted at all.
func TestLoginLockout(t *testing.T) {
	e, login := aliceBehindProxy(t)
	attacker := 0
	for range 30 {
		if login("guess", "203.0.113.7") == 429 {
			attacker++
		}
		e.advance(4 * time.Second) // slower than the per-address refill, faster than the per-user one
	}
	if attacker == 0 {
		t.Fatal("the attacker was never limited: the test proves nothing")
	}
	if code := login("alice-password", "198.51.100.2"); code != 200 {
		t.Fatalf("alice from her address while the attacker is limited: %d, want 200", code)
	}
	// Twenty correct logins in a row from one address are not limited.
	for i := range 20 {
		if code := login("alice-password", "198.51.100.3"); code != 200 {
			t.Fatalf("correct login %d: %d, want 200", i+1, code)
		}
	}
}

// Guesses are counted per network and per username across networks
// (before, three addresses gave three fresh buckets, 15 guesses
// instead of 5): an IPv6 client is its /64; more networks add one guess
// each once the username's ceiling is spent, a network that failed waits
// for the ceiling to refill, and the right password from a network that
// has not been failing still signs in.
func TestLoginCeilingAcrossNetworks(t *testing.T) {
	e, login := aliceBehindProxy(t)
	guesses := func(ips ...string) (n int) {
		for _, ip := range ips {
			for login("guess", ip) == 401 {
				n++
			}
		}
		return n
	}
	// Three addresses of one /64 are one client.
	if n := guesses("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"); n != 5 {
		t.Fatalf("three addresses of one /64: %d guesses, want 5", n)
	}
	// Other networks: one guess each now that alice's ceiling is spent.
	if n := guesses("198.51.100.1", "198.51.100.2", "2001:db8:9::1"); n != 3 {
		t.Fatalf("three more networks: %d guesses, want 3", n)
	}
	if code := login("alice-password", "198.51.100.1"); code != 429 {
		t.Fatalf("the right password from a network that failed, ceiling spent: %d, want 429", code)
	}
	if code := login("alice-password", "192.0.2.50"); code != 200 {
		t.Fatalf("alice from a clean network while her name is under attack: %d, want 200", code)
	}
	e.advance(12 * time.Second) // the ceiling refills one guess
	if code := login("alice-password", "198.51.100.1"); code != 200 {
		t.Fatalf("after the refill, from the network that failed: %d, want 200", code)
	}
}

// The same for a password page: per page across networks.
func TestUnlockCeilingAcrossNetworks(t *testing.T) {
	e := newProxiedEnv(t)
	admin := e.adminToken()
	e.upload(admin, part{"file", "a.zip", "a"})
	e.distribution(admin, `{"slug":"pw","security":"password","password":"right-pw"}`)
	try := func(pw, ip string) int {
		r, _ := http.NewRequest("GET", e.ts.URL+"/d/acme/pw/f/x/a.zip", nil) // a download with Basic auth; the page's form counts alike
		r.SetBasicAuth("", pw)
		r.Header.Set("X-Forwarded-For", ip)
		resp, _ := sendNoRedirect(t, r)
		return resp.StatusCode
	}
	n := 0
	for i := range 20 {
		for try("guess", fmt.Sprintf("10.9.%d.1", i)) == 401 {
			n++
		}
	}
	// The page's ceiling (10) goes to the first two networks (5 each),
	// then one guess per network for the other 18.
	if n != 10+18 {
		t.Fatalf("%d guesses from 20 networks, want 28", n)
	}
	if code := try("right-pw", "10.9.0.1"); code != 429 {
		t.Fatalf("the right password from a network that failed: %d, want 429", code)
	}
	if code := try("right-pw", "10.200.0.1"); code == 401 || code == 429 {
		t.Fatalf("the right password from a clean network: %d", code)
	}
}

func TestTokenRevocationAndLastUsed(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	tok, id := e.serviceAccount(admin, "acme", "deployer", "ci")
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme", tok, "", nil)

	// Last use is recorded on flush, not per request.
	list, _ := e.store.Tokens(id)
	if !list[0].LastUsedAt.IsZero() {
		t.Fatal("lastUsedAt written before the flush")
	}
	if err := e.srv.FlushTokenUse(); err != nil {
		t.Fatal(err)
	}
	list, _ = e.store.Tokens(id)
	if !list[0].LastUsedAt.Equal(e.clock().UTC()) {
		t.Fatalf("lastUsedAt: got %v, want %v", list[0].LastUsedAt, e.clock())
	}

	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/service-account/"+id+"/token/"+list[0].Prefix, admin, "", nil)
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace/acme", tok, "", nil)
	e.mustReq(http.StatusNotFound, "DELETE", "/api/v1/workspace/acme/service-account/"+id+"/token/"+list[0].Prefix, admin, "", nil)
}

// No plain token issued through the API may appear in the database file.
func TestTokensHashedAtRest(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	sa, _ := e.serviceAccount(admin, "acme", "deployer", "ci")
	var app struct{ Token string }
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/project/app/app-token", admin, "", &app)
	e.newUser(admin, `{"username":"alice","password":"alice-password"}`)
	session := e.login("alice", "alice-password")

	raw, err := os.ReadFile(e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"admin": admin, "service account": sa, "app": app.Token, "session": session} {
		secret := tok[len("hgr_")+8+1:] // hgr_, the visible prefix, _, the secret
		if len(secret) < 43 || strings.Contains(string(raw), secret) {
			t.Errorf("%s token: secret %d chars, stored in plain text: %v", name, len(secret), strings.Contains(string(raw), secret))
		}
	}
	if strings.Contains(string(raw), "alice-password") {
		t.Error("password stored in plain text")
	}
}

func TestMembers(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"alice","password":"alice-password"}`)
	session := e.login("alice", "alice-password")
	e.mustReq(http.StatusNotFound, "GET", "/api/v1/workspace/acme", session, "", nil)

	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"alice","role":"viewer"}`, nil)
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme", session, "", nil)
	e.mustReq(http.StatusForbidden, "POST", "/api/v1/workspace/acme/project", session, `{"slug":"x"}`, nil)

	var members []struct{ Kind, Name, Role string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/member", admin, "", &members)
	if len(members) != 1 || members[0].Name != "alice" || members[0].Role != "viewer" || members[0].Kind != store.MemberUser {
		t.Fatalf("members: got %+v", members)
	}
	e.mustReq(http.StatusBadRequest, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"alice","role":"owner"}`, nil)
	e.mustReq(http.StatusNotFound, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"nobody","role":"viewer"}`, nil)

	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/member/user/alice", admin, "", nil)
	e.mustReq(http.StatusNotFound, "GET", "/api/v1/workspace/acme", session, "", nil)
	e.mustReq(http.StatusNotFound, "DELETE", "/api/v1/workspace/acme/member/user/alice", admin, "", nil)

	var wss []struct{ Slug string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace", session, "", &wss)
	if len(wss) != 0 {
		t.Fatalf("workspaces visible to a non-member: %+v", wss)
	}
}

// Usernames are a documented safe set; anything else is a 400 with the rule.
func TestUsernames(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for _, name := range []string{"alice", "Bob.Smith", "ci-bot_2", "jane@example.com", "a"} {
		e.newUser(admin, fmt.Sprintf(`{"username":%q,"password":"long-password"}`, name))
	}
	for _, name := range []string{"", "nul\x00name", "<script>alert(1)</script>", "two words", "a/b", ".hidden", "-dash", "ünïcode",
		"tab\tname", strings.Repeat("x", 65), "\u202eevil"} {
		js, _ := json.Marshal(name)
		code, body := e.req("POST", "/api/v1/user", admin, fmt.Sprintf(`{"username":%s,"password":"long-password"}`, js))
		if code != http.StatusBadRequest || !strings.Contains(string(body), "letters, digits and . _ - @") {
			t.Errorf("username %q: got %d %s, want 400 naming the rule", name, code, body)
		}
	}
}

// A caller who may change only their own password gets the same answer
// for another user and for a name nobody has: users cannot be enumerated.
func TestPasswordChangeDoesNotEnumerate(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"alice","password":"alice-password"}`)
	e.member(admin, "vera", "vera-password", "viewer")
	viewer := e.login("vera", "vera-password")
	saTok, _ := e.serviceAccount(admin, "acme", "bot", "viewer")
	for _, tok := range []string{viewer, saTok} {
		c1, b1 := e.req("PUT", "/api/v1/user/alice/password", tok, `{"password":"new-password"}`)
		c2, b2 := e.req("PUT", "/api/v1/user/nobody/password", tok, `{"password":"new-password"}`)
		if c1 != 403 || c2 != c1 || string(b1) != string(b2) {
			t.Fatalf("existing user: %d %s; unknown user: %d %s; want the same 403", c1, b1, c2, b2)
		}
	}
	e.mustReq(http.StatusNoContent, "PUT", "/api/v1/user/vera/password", viewer, `{"password":"newer-password"}`, nil)
	e.mustReq(http.StatusNotFound, "PUT", "/api/v1/user/nobody/password", admin, `{"password":"new-password"}`, nil)
}

// routeOf finds the route of the table a request goes to: same method,
// every static segment equal, the most static segments winning (as the
// router does).
func routeOf(table []server.RouteInfo, method, path string) (server.RouteInfo, bool) {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best server.RouteInfo
	bestStatic := -1
	for _, rt := range table {
		pat := strings.Split(strings.Trim(rt.Pattern, "/"), "/")
		if rt.Method != method || len(pat) != len(segs) {
			continue
		}
		static, match := 0, true
		for i, p := range pat {
			switch {
			case strings.HasPrefix(p, ":"):
			case p == segs[i]:
				static++
			default:
				match = false
			}
		}
		if match && static > bestStatic {
			best, bestStatic = rt, static
		}
	}
	return best, bestStatic >= 0
}
