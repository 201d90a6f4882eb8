package server

import (
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"hangar/auth"
	"hangar/store"
)

// route is one line of the route table.
type route struct {
	method, pattern string
	render          renderer // the shape of its errors (errors.go)
	flags           routeFlags
	access          access
	h               handler
}

// renderer is the front a route belongs to, which decides how an error
// its handler returns is answered.
type renderer uint8

const (
	// workspaceFront: JSON {"error": "CODE", "message": "…"}.
	workspaceFront renderer = iota
	// orgFront: the organization and Integrations APIs' envelope
	// ({"status": false, "error": {"code", "message"}}).
	orgFront
	// consoleFront: a console page (see console.go): authenticated by the
	// session cookie, never a bearer token; errors as pages (signed out:
	// to the sign-in page); a POST must come from this origin and carry
	// the session's CSRF token.
	consoleFront
	// testerFront: a tester-facing page or what it links to (/p, /d,
	// /trust, /enroll): an error page for a browser, the workspace API's
	// JSON for any other client (curl, iOS's installer).
	testerFront
	// appCenterFront: App Center's API (/v0.1/) and its upload domain
	// (/upload/): errors as {"code": "NotFound", "message": "…"}; the
	// token comes in X-API-Token.
	appCenterFront
)

// routeFlags say how a route's requests are treated before its handler runs.
type routeFlags uint8

const (
	// secretPath: the path holds a credential (a download token); the log
	// shows the route pattern instead.
	secretPath routeFlags = 1 << iota
	// upload: the body carries files; the handler limits each file to
	// max_upload_size. Other bodies are limited to max_request_body.
	upload
	// ownAccount: a route a user may use before their account is in
	// order: their own password chosen (an admin set it), a second factor
	// set up (the instance requires one). Every other route refuses them.
	ownAccount
)

// routes is the router over the route table.
func (s *Server) routes() http.Handler {
	r := httprouter.New()
	for _, m := range mount(s.table()) {
		r.Handle(m.method, m.pattern, s.dispatch(m))
	}
	// Case-insensitive path fixing would redirect between IDs, which are
	// case-sensitive.
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fail(w, req, errNotFound("route"))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fail(w, req, &apiError{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", orgBadRequest, req.Method + " is not allowed here"})
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		if v == http.ErrAbortHandler {
			panic(v) // a deliberate abort: net/http drops the connection
		}
		s.fail(w, req, fmt.Errorf("panic: %v", v))
	}
	return r
}

// table is the whole route table. Paths are written as the APIs' references write
// them (docs/apis.md); mount (below) deals with the ones httprouter cannot tell apart.
func (s *Server) table() []route {
	const (
		ws   = "/api/v1/workspace/:ws"
		proj = ws + "/project/:proj"
		app  = "/v1/organizations/:org/apps/:app"
		ac   = "/v0.1/apps/:org/:app" // App Center's
	)
	metricsAccess := instanceAdmin // they name workspaces
	if s.cfg.MetricsPublic {
		metricsAccess = public
	}
	return []route{
		// The web console (console.go): pages over the same operations.
		{"GET", "/", consoleFront, 0, signedIn, s.homePage},
		{"GET", "/signin", consoleFront, 0, public, s.signinPage},
		{"POST", "/signin", consoleFront, 0, public, s.signinSubmit},
		{"GET", "/signin/second", consoleFront, 0, public, s.secondPage},
		{"POST", "/signin/second", consoleFront, 0, public, s.secondSubmit},
		{"POST", "/signin/passkey/begin", consoleFront, 0, public, s.signinPasskeyBegin},
		{"GET", "/signin/oidc/:name", consoleFront, 0, public, s.oidcStart},
		{"GET", "/signin/oidc/:name/callback", consoleFront, 0, public, s.oidcCallback},
		{"POST", "/signin/passkey/finish", consoleFront, 0, public, s.signinPasskeyFinish},
		{"GET", "/forgot", consoleFront, 0, public, s.forgotPage},
		{"POST", "/forgot", consoleFront, 0, public, s.forgotSubmit},
		{"GET", "/invite/:token", consoleFront, secretPath, public, s.invitePage},
		{"POST", "/invite/:token", consoleFront, secretPath, public, s.inviteSubmit},
		{"GET", "/reset/:token", consoleFront, secretPath, public, s.resetPage},
		{"POST", "/reset/:token", consoleFront, secretPath, public, s.resetSubmit},
		{"GET", "/confirm-email/:token", consoleFront, secretPath, public, s.confirmEmailPage},
		{"POST", "/confirm-email/:token", consoleFront, secretPath, public, s.confirmEmailSubmit},
		{"POST", "/signout", consoleFront, ownAccount, signedIn, s.signoutSubmit},
		{"GET", "/account", consoleFront, ownAccount, signedIn, s.accountPage},
		{"POST", "/account/password", consoleFront, ownAccount, signedIn, s.passwordSubmit},
		{"POST", "/account/email", consoleFront, 0, signedIn, s.emailSubmit},
		{"GET", "/account/totp", consoleFront, ownAccount, signedIn, s.totpSetupPage},
		{"POST", "/account/totp", consoleFront, ownAccount, signedIn, s.totpConfirmSubmit},
		{"GET", "/account/totp/remove", consoleFront, 0, signedIn, s.confirmTOTPRemove()},
		{"POST", "/account/totp/remove", consoleFront, 0, signedIn, s.totpRemoveSubmit},
		{"POST", "/account/recovery", consoleFront, 0, signedIn, s.recoveryRenewSubmit},
		{"POST", "/account/passkeys/begin", consoleFront, ownAccount, signedIn, s.passkeyBegin},
		{"POST", "/account/passkeys/finish", consoleFront, ownAccount, signedIn, s.passkeyFinish},
		{"GET", "/account/passkeys/:id/remove", consoleFront, 0, signedIn, s.confirmPasskeyRemove()},
		{"POST", "/account/passkeys/:id/remove", consoleFront, 0, signedIn, s.passkeyRemoveSubmit},
		{"POST", "/account/sessions/:prefix/end", consoleFront, 0, signedIn, s.endSessionSubmit},
		{"GET", "/users", consoleFront, 0, instanceAdmin, s.usersPage},
		{"GET", "/tokens", consoleFront, 0, instanceAdmin, s.tokensPage},
		{"GET", "/audit", consoleFront, 0, instanceAdmin, s.auditConsolePage},
		{"GET", "/audit/export", consoleFront, 0, instanceAdmin, s.auditExport},
		{"GET", "/tokens/:prefix/revoke", consoleFront, 0, instanceAdmin, s.confirmTokenRevoke()},
		{"POST", "/tokens/:prefix/revoke", consoleFront, 0, instanceAdmin, s.tokenRevoke},
		{"POST", "/users", consoleFront, 0, instanceAdmin, s.createUserSubmit},
		{"GET", "/users/:username/password", consoleFront, 0, instanceAdmin, s.confirmPasswordReset()},
		{"POST", "/users/:username/password", consoleFront, 0, instanceAdmin, s.resetPasswordSubmit},
		{"POST", "/invitations", consoleFront, 0, instanceAdmin, s.inviteUserSubmit},
		{"GET", "/invitations/:id/revoke", consoleFront, 0, instanceAdmin, s.confirmInvitationRevoke(func(*call) string { return "/users" })},
		{"POST", "/invitations/:id/revoke", consoleFront, 0, instanceAdmin, s.revokeUserInvitationSubmit},
		{"GET", "/users/:username/disable", consoleFront, 0, instanceAdmin, s.confirmUserDisable()},
		{"POST", "/users/:username/disable", consoleFront, 0, instanceAdmin, s.offboardSubmit("disable")},
		{"POST", "/users/:username/enable", consoleFront, 0, instanceAdmin, s.offboardSubmit("enable")},
		{"GET", "/users/:username/delete", consoleFront, 0, instanceAdmin, s.confirmUserDelete()},
		{"POST", "/users/:username/delete", consoleFront, 0, instanceAdmin, s.offboardSubmit("delete")},
		{"GET", "/static/:name", consoleFront, 0, public, s.serveStatic},
		{"POST", "/workspace", consoleFront, 0, instanceAdmin, s.createWorkspaceSubmit},
		{"GET", "/w/:ws", consoleFront, 0, need(auth.ProjectRead), s.workspacePage},
		{"POST", "/w/:ws/project", consoleFront, 0, need(auth.WorkspaceAdmin), s.createProjectSubmit},
		{"POST", "/w/:ws/quota", consoleFront, 0, instanceAdmin, s.quotaSubmit},
		{"GET", "/w/:ws/members", consoleFront, 0, need(auth.WorkspaceAdmin), s.membersPage},
		{"POST", "/w/:ws/members", consoleFront, 0, need(auth.WorkspaceAdmin), s.memberSubmit},
		{"GET", "/w/:ws/members/:kind/:id/remove", consoleFront, 0, need(auth.WorkspaceAdmin), s.confirmMemberRemove()},
		{"POST", "/w/:ws/members/:kind/:id/remove", consoleFront, 0, need(auth.WorkspaceAdmin), s.memberRemove},
		{"GET", "/w/:ws/audit", consoleFront, 0, need(auth.WorkspaceAdmin), s.auditConsolePage},
		{"GET", "/w/:ws/audit/export", consoleFront, 0, need(auth.WorkspaceAdmin), s.auditExport},
		{"POST", "/w/:ws/invitations", consoleFront, 0, need(auth.WorkspaceAdmin), s.inviteMemberSubmit},
		{"GET", "/w/:ws/testers", consoleFront, 0, need(auth.BuildCreateLinks), s.testersPage},
		{"GET", "/w/:ws/installs", consoleFront, 0, need(auth.BuildCreateLinks), s.testerInstallsPage},
		{"POST", "/w/:ws/feedback-mail", consoleFront, 0, need(auth.BuildCreateLinks), s.feedbackMailSubmit},
		{"GET", "/w/:ws/installs.csv", consoleFront, 0, need(auth.BuildCreateLinks), s.testerInstallsCSV},
		{"POST", "/w/:ws/testers", consoleFront, 0, need(auth.BuildCreateLinks), s.testerGroupSubmit},
		{"GET", "/w/:ws/testers/:group", consoleFront, 0, need(auth.BuildCreateLinks), s.testerGroupPage},
		{"POST", "/w/:ws/testers/:group/add", consoleFront, 0, need(auth.BuildCreateLinks), s.testerAddSubmit},
		{"POST", "/w/:ws/testers/:group/remove", consoleFront, 0, need(auth.BuildCreateLinks), s.testerRemoveSubmit},
		{"POST", "/w/:ws/testers/:group/signout", consoleFront, 0, need(auth.BuildCreateLinks), s.testerSignOutSubmit},
		{"GET", "/w/:ws/testers/:group/delete", consoleFront, 0, need(auth.BuildCreateLinks), s.confirmTesterGroupDelete()},
		{"POST", "/w/:ws/testers/:group/delete", consoleFront, 0, need(auth.BuildCreateLinks), s.testerGroupDeleteSubmit},
		{"GET", "/w/:ws/invitations/:id/revoke", consoleFront, 0, need(auth.WorkspaceAdmin), s.confirmInvitationRevoke(func(c *call) string { return "/w/" + c.ws.Slug + "/members" })},
		{"POST", "/w/:ws/invitations/:id/revoke", consoleFront, 0, need(auth.WorkspaceAdmin), s.revokeMemberInvitationSubmit},
		{"POST", "/w/:ws/service-accounts", consoleFront, 0, need(auth.WorkspaceAdmin), s.serviceAccountSubmit},
		{"POST", "/w/:ws/service-accounts/:id/token", consoleFront, 0, need(auth.WorkspaceAdmin), s.serviceAccountToken},
		{"GET", "/w/:ws/service-accounts/:id/remove", consoleFront, 0, need(auth.WorkspaceAdmin), s.confirmServiceAccountRemove()},
		{"POST", "/w/:ws/service-accounts/:id/remove", consoleFront, 0, need(auth.WorkspaceAdmin), s.serviceAccountRemove},
		{"GET", "/w/:ws/p/:proj", consoleFront, 0, need(auth.ProjectRead), s.projectPage},
		{"GET", "/w/:ws/p/:proj/upload", consoleFront, 0, need(auth.BuildCreate), s.uploadPage},
		{"GET", "/w/:ws/p/:proj/settings", consoleFront, 0, need(auth.WorkspaceAdmin), s.settingsPage},
		{"POST", "/w/:ws/p/:proj/settings/retention", consoleFront, 0, need(auth.WorkspaceAdmin), s.retentionSubmit},
		{"POST", "/w/:ws/p/:proj/settings/app-token", consoleFront, 0, need(auth.WorkspaceAdmin), s.appTokenSubmit},
		{"GET", "/w/:ws/p/:proj/settings/app-token/:prefix/revoke", consoleFront, 0, need(auth.WorkspaceAdmin), s.confirmAppTokenRevoke()},
		{"POST", "/w/:ws/p/:proj/settings/app-token/:prefix/revoke", consoleFront, 0, need(auth.WorkspaceAdmin), s.appTokenRevoke},
		{"GET", "/w/:ws/devices", consoleFront, 0, need(auth.ProjectRead), s.devicesPage},
		{"GET", "/w/:ws/devices/export", consoleFront, 0, need(auth.ProjectRead), s.exportDevices},
		{"GET", "/w/:ws/devices/:udid/remove", consoleFront, 0, need(auth.WorkspaceAdmin), s.confirmDeviceRemove()},
		{"POST", "/w/:ws/devices/:udid/remove", consoleFront, 0, need(auth.WorkspaceAdmin), s.removeDeviceSubmit},
		{"GET", "/w/:ws/webhooks", consoleFront, 0, need(auth.WorkspaceAdmin), s.webhooksPage},
		{"POST", "/w/:ws/webhooks", consoleFront, 0, need(auth.WorkspaceAdmin), s.createWebhookSubmit},
		{"GET", "/w/:ws/webhooks/:webhookId", consoleFront, 0, need(auth.WorkspaceAdmin), s.webhookPage},
		{"POST", "/w/:ws/webhooks/:webhookId", consoleFront, 0, need(auth.WorkspaceAdmin), s.updateWebhookSubmit},
		{"GET", "/w/:ws/webhooks/:webhookId/delete", consoleFront, 0, need(auth.WorkspaceAdmin), s.confirmWebhookDelete()},
		{"POST", "/w/:ws/webhooks/:webhookId/delete", consoleFront, 0, need(auth.WorkspaceAdmin), s.deleteWebhookSubmit},
		{"POST", "/w/:ws/webhooks/:webhookId/deliveries/:deliveryId/redeliver", consoleFront, 0, need(auth.WorkspaceAdmin), s.redeliverSubmit},
		{"GET", "/w/:ws/p/:proj/webhooks", consoleFront, 0, need(auth.WorkspaceAdmin), s.webhooksPage},
		{"POST", "/w/:ws/p/:proj/webhooks", consoleFront, 0, need(auth.WorkspaceAdmin), s.createWebhookSubmit},
		{"GET", "/w/:ws/p/:proj/webhooks/:webhookId", consoleFront, 0, need(auth.WorkspaceAdmin), s.webhookPage},
		{"POST", "/w/:ws/p/:proj/webhooks/:webhookId", consoleFront, 0, need(auth.WorkspaceAdmin), s.updateWebhookSubmit},
		{"GET", "/w/:ws/p/:proj/webhooks/:webhookId/delete", consoleFront, 0, need(auth.WorkspaceAdmin), s.confirmWebhookDelete()},
		{"POST", "/w/:ws/p/:proj/webhooks/:webhookId/delete", consoleFront, 0, need(auth.WorkspaceAdmin), s.deleteWebhookSubmit},
		{"POST", "/w/:ws/p/:proj/webhooks/:webhookId/deliveries/:deliveryId/redeliver", consoleFront, 0, need(auth.WorkspaceAdmin), s.redeliverSubmit},
		{"POST", "/w/:ws/p/:proj/upload", consoleFront, upload, need(auth.BuildCreate), s.uploadSubmit},
		{"GET", "/w/:ws/p/:proj/d", consoleFront, 0, need(auth.ProjectRead), s.distributionsPage},
		{"POST", "/w/:ws/p/:proj/d", consoleFront, 0, need(auth.BuildCreateLinks), s.createDistributionSubmit},
		{"GET", "/w/:ws/p/:proj/d/:distId", consoleFront, 0, need(auth.ProjectRead), s.distributionPage},
		{"GET", "/w/:ws/p/:proj/d/:distId/installs.csv", consoleFront, 0, need(auth.BuildCreateLinks), s.distributionInstallsCSV},
		{"POST", "/w/:ws/p/:proj/d/:distId", consoleFront, 0, need(auth.BuildCreateLinks), s.updateDistributionSubmit},
		{"GET", "/w/:ws/p/:proj/d/:distId/delete", consoleFront, 0, need(auth.BuildDelete), s.confirmDistributionDelete()},
		{"POST", "/w/:ws/p/:proj/d/:distId/delete", consoleFront, 0, need(auth.BuildDelete), s.deleteDistributionSubmit},
		{"GET", "/w/:ws/p/:proj/b/:buildId", consoleFront, 0, need(auth.ProjectRead), s.buildPage},
		{"GET", "/w/:ws/p/:proj/b/:buildId/installs.csv", consoleFront, 0, need(auth.BuildCreateLinks), s.buildInstallsCSV},
		{"POST", "/w/:ws/p/:proj/b/:buildId/link", consoleFront, 0, need(auth.BuildCreateLinks | auth.BuildShareOpenly), s.createLinkSubmit},
		{"POST", "/w/:ws/p/:proj/b/:buildId/attach", consoleFront, upload, need(auth.BuildCreate), s.attachSubmit},
		{"POST", "/w/:ws/p/:proj/b/:buildId/edit", consoleFront, 0, need(auth.BuildCreate), s.editBuildSubmit},
		{"GET", "/w/:ws/p/:proj/b/:buildId/file/:fileId/delete", consoleFront, 0, need(auth.BuildDelete), s.confirmFileDelete()},
		{"POST", "/w/:ws/p/:proj/b/:buildId/file/:fileId/delete", consoleFront, 0, need(auth.BuildDelete), s.deleteFileSubmit},
		{"GET", "/w/:ws/p/:proj/b/:buildId/link/:linkId", consoleFront, 0, need(auth.ProjectRead), s.linkPage},
		{"GET", "/w/:ws/p/:proj/b/:buildId/link/:linkId/deactivate", consoleFront, 0, need(auth.BuildDelete), s.confirmLinkDeactivate()},
		{"POST", "/w/:ws/p/:proj/b/:buildId/link/:linkId/deactivate", consoleFront, 0, need(auth.BuildDelete), s.deactivateLinkSubmit},
		{"GET", "/w/:ws/p/:proj/b/:buildId/delete", consoleFront, 0, need(auth.BuildDelete), s.deleteBuildPage},
		{"POST", "/w/:ws/p/:proj/b/:buildId/delete", consoleFront, 0, need(auth.BuildDelete), s.deleteBuildSubmit},

		{"GET", "/healthz", workspaceFront, 0, public, s.healthz},
		{"GET", "/api/openapi.json", workspaceFront, 0, public, s.openAPI},
		{"GET", "/icon/:glyph/:size", workspaceFront, 0, public, s.placeholderIcon}, // manifests of packages without an icon
		{"GET", "/trust", testerFront, 0, public, s.trustPage},
		{"GET", "/trust/ca.crt", testerFront, 0, public, s.caCert},
		{"GET", "/trust/ca.mobileconfig", testerFront, 0, public, s.caProfile},
		{"GET", "/readyz", workspaceFront, 0, public, s.readyz},
		{"GET", "/metrics", workspaceFront, 0, metricsAccess, s.serveMetrics},

		// Delivery: Hangar's own signed URLs, where every 302 points. The
		// signature is the credential.
		{"GET", "/dl/:fileId/:fileName", workspaceFront, 0, public, s.download},
		{"HEAD", "/dl/:fileId/:fileName", workspaceFront, 0, public, s.download},

		// Sessions and users.
		{"POST", "/api/v1/auth/login", workspaceFront, 0, public, s.login},
		{"POST", "/api/v1/auth/logout", workspaceFront, ownAccount, signedIn, s.logout},
		{"GET", "/api/v1/auth/session", workspaceFront, 0, signedIn, s.listOwnSessions},
		{"DELETE", "/api/v1/auth/session/:prefix", workspaceFront, 0, signedIn, s.endOwnSession},
		{"POST", "/api/v1/user", workspaceFront, 0, instanceAdmin, s.createUser},
		{"GET", "/api/v1/user", workspaceFront, 0, instanceAdmin, s.listUsers},
		{"PUT", "/api/v1/user/:username/password", workspaceFront, ownAccount, signedIn, s.setPassword}, // self or admin, checked inside
		{"GET", "/api/v1/token", workspaceFront, 0, instanceAdmin, s.listTokens},
		{"DELETE", "/api/v1/token/:prefix", workspaceFront, 0, instanceAdmin, s.revokeAnyToken},
		{"GET", "/api/v1/audit", workspaceFront, 0, instanceAdmin, s.listAudit},
		{"GET", "/api/v1/audit/export", workspaceFront, 0, instanceAdmin, s.auditExport},
		{"POST", "/api/v1/user/:username/disable", workspaceFront, 0, instanceAdmin, s.offboardUser("disable")},
		{"POST", "/api/v1/user/:username/enable", workspaceFront, 0, instanceAdmin, s.offboardUser("enable")},
		{"DELETE", "/api/v1/user/:username", workspaceFront, 0, instanceAdmin, s.offboardUser("delete")},
		{"POST", "/api/v1/user/:username/email", workspaceFront, 0, signedIn, s.changeEmailAPI}, // self, checked inside
		{"POST", "/api/v1/invitation", workspaceFront, 0, instanceAdmin, s.createInvitation},
		{"GET", "/api/v1/invitation", workspaceFront, 0, instanceAdmin, s.listInvitations},
		{"DELETE", "/api/v1/invitation/:id", workspaceFront, 0, instanceAdmin, s.revokeInvitation},
		// Single-use links, redeemed by whoever holds them (the token is
		// the credential).
		{"POST", "/api/v1/invitation/:id/accept", workspaceFront, secretPath, public, s.acceptInvitationAPI},
		{"POST", "/api/v1/auth/forgot", workspaceFront, 0, public, s.forgot},
		{"POST", "/api/v1/auth/reset/:id", workspaceFront, secretPath, public, s.resetAPI},
		{"POST", "/api/v1/auth/confirm-email/:id", workspaceFront, secretPath, public, s.confirmEmailAPI},
		{"GET", ws + "/audit", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listAudit},
		// Tester groups (api_testers.go): who may make pages chooses who is
		// on them.
		{"POST", ws + "/tester-group", workspaceFront, 0, need(auth.BuildCreateLinks), s.createTesterGroup},
		{"GET", ws + "/tester-group", workspaceFront, 0, need(auth.BuildCreateLinks), s.listTesterGroups},
		{"GET", ws + "/tester-group/:group", workspaceFront, 0, need(auth.BuildCreateLinks), s.getTesterGroup},
		{"PATCH", ws + "/tester-group/:group", workspaceFront, 0, need(auth.BuildCreateLinks), s.updateTesterGroup},
		{"DELETE", ws + "/tester-group/:group", workspaceFront, 0, need(auth.BuildCreateLinks), s.deleteTesterGroup},
		{"POST", ws + "/tester-group/:group/members.csv", workspaceFront, 0, need(auth.BuildCreateLinks), s.importTesterGroup},
		{"POST", ws + "/tester-signout", workspaceFront, 0, need(auth.BuildCreateLinks), s.signOutTesterAPI},
		{"GET", ws + "/tester-installs", workspaceFront, 0, need(auth.BuildCreateLinks), s.testerInstalls},
		{"PUT", ws + "/feedback-mail", workspaceFront, 0, need(auth.BuildCreateLinks), s.setFeedbackMail},
		{"POST", "/api/v1/tester-signout", workspaceFront, 0, instanceAdmin, s.signOutTesterAPI},
		{"GET", ws + "/audit/export", workspaceFront, 0, need(auth.WorkspaceAdmin), s.auditExport},
		{"POST", ws + "/invitation", workspaceFront, 0, need(auth.WorkspaceAdmin), s.createInvitation},
		{"GET", ws + "/invitation", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listInvitations},
		{"DELETE", ws + "/invitation/:id", workspaceFront, 0, need(auth.WorkspaceAdmin), s.revokeInvitation},

		// App Center's API (appcenter_*.go): an owner is a workspace, an app
		// a project; the token comes in X-API-Token.
		{"GET", ac, appCenterFront, 0, need(auth.ProjectRead), s.getAppCenterApp},
		{"POST", ac + "/uploads/releases", appCenterFront, 0, need(auth.BuildCreate), s.createReleaseUpload},
		{"GET", ac + "/uploads/releases/:uploadId", appCenterFront, 0, need(auth.BuildCreate), s.getReleaseUpload},
		{"PATCH", ac + "/uploads/releases/:uploadId", appCenterFront, 0, need(auth.BuildCreate), s.patchReleaseUpload},
		{"GET", ac + "/releases", appCenterFront, 0, need(auth.ProjectRead), s.listReleases},
		{"GET", ac + "/releases/:releaseId", appCenterFront, 0, need(auth.ProjectRead), s.getRelease},
		{"PUT", ac + "/releases/:releaseId", appCenterFront, 0, need(auth.BuildCreate), s.updateRelease},
		{"PATCH", ac + "/releases/:releaseId", appCenterFront, 0, need(auth.BuildCreate), s.updateRelease},
		{"DELETE", ac + "/releases/:releaseId", appCenterFront, 0, need(auth.BuildDelete), s.deleteRelease},
		{"POST", ac + "/releases/:releaseId/groups", appCenterFront, 0, need(auth.BuildCreateLinks), s.addReleaseToGroup},
		{"GET", ac + "/distribution_groups", appCenterFront, 0, need(auth.ProjectRead), s.listAppCenterGroups},
		{"GET", ac + "/distribution_groups/:group", appCenterFront, 0, need(auth.ProjectRead), s.getAppCenterGroup},
		{"GET", ac + "/distribution_groups/:group/members", appCenterFront, 0, need(auth.BuildCreateLinks), s.appCenterGroupMembers},
		{"POST", ac + "/symbol_uploads", appCenterFront, 0, need(auth.BuildCreate), s.createSymbolUpload},
		{"PATCH", ac + "/symbol_uploads/:uploadId", appCenterFront, 0, need(auth.BuildCreate), s.patchSymbolUpload},
		{"POST", "/v0.1/orgs/:org/distribution_groups/:group/apps", appCenterFront, 0, need(auth.BuildCreateLinks), s.addAppToGroup},
		// Its upload domain: the upload's token is in the query.
		{"PUT", "/upload/symbols/:asset", appCenterFront, upload, public, s.putSymbols},
		{"POST", "/upload/set_metadata/:asset", appCenterFront, 0, public, s.setMetadata},
		{"POST", "/upload/upload_chunk/:asset", appCenterFront, upload, public, s.uploadChunk},
		{"POST", "/upload/finished/:asset", appCenterFront, 0, public, s.uploadFinished},

		// Operations, inside the running server (bbolt has one process).
		{"GET", "/api/v1/admin/backup", workspaceFront, 0, instanceAdmin, s.adminBackup},
		{"POST", "/api/v1/admin/fsck", workspaceFront, 0, instanceAdmin, s.adminFsck},
		{"POST", "/api/v1/admin/gc", workspaceFront, 0, instanceAdmin, s.adminGC},

		// Workspaces and their members.
		{"POST", "/api/v1/workspace", workspaceFront, 0, instanceAdmin, s.createWorkspace},
		{"GET", "/api/v1/workspace", workspaceFront, 0, signedIn, s.listWorkspaces},
		{"GET", ws, workspaceFront, 0, need(auth.ProjectRead), s.getWorkspace},
		{"PATCH", ws, workspaceFront, 0, instanceAdmin, s.updateWorkspace},
		{"GET", ws + "/member", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listMembers},
		{"PUT", ws + "/member", workspaceFront, 0, need(auth.WorkspaceAdmin), s.setMember},
		{"DELETE", ws + "/member/:kind/:id", workspaceFront, 0, need(auth.WorkspaceAdmin), s.removeMember},
		{"POST", ws + "/service-account", workspaceFront, 0, need(auth.WorkspaceAdmin), s.createServiceAccount},
		{"GET", ws + "/service-account", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listServiceAccounts},
		{"DELETE", ws + "/service-account/:id", workspaceFront, 0, need(auth.WorkspaceAdmin), s.deleteServiceAccount},
		{"POST", ws + "/service-account/:id/token", workspaceFront, 0, need(auth.WorkspaceAdmin), s.createServiceAccountToken},
		{"DELETE", ws + "/service-account/:id/token/:prefix", workspaceFront, 0, need(auth.WorkspaceAdmin), s.revokeServiceAccountToken},

		// Projects and their CI tokens.
		{"POST", ws + "/project", workspaceFront, 0, need(auth.WorkspaceAdmin), s.createProject},
		{"GET", ws + "/project", workspaceFront, 0, need(auth.ProjectRead), s.listProjects},
		{"GET", proj, workspaceFront, 0, need(auth.ProjectRead), s.getProject},
		{"PATCH", proj, workspaceFront, 0, need(auth.WorkspaceAdmin), s.updateProject},
		{"POST", proj + "/app-token", workspaceFront, 0, need(auth.WorkspaceAdmin), s.createAppToken},
		{"GET", proj + "/app-token", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listAppTokens},
		{"DELETE", proj + "/app-token/:prefix", workspaceFront, 0, need(auth.WorkspaceAdmin), s.revokeAppToken},

		// Builds and uploads.
		{"POST", proj + "/build", workspaceFront, upload, need(auth.BuildCreate), s.createBuild},
		{"GET", proj + "/build", workspaceFront, 0, need(auth.ProjectRead), s.listBuilds},
		{"GET", proj + "/build/:buildId", workspaceFront, 0, need(auth.ProjectRead), s.getBuild},
		{"DELETE", proj + "/build/:buildId", workspaceFront, 0, need(auth.BuildDelete), s.deleteBuildHandler},
		{"PATCH", proj + "/build/:buildId", workspaceFront, 0, need(auth.BuildCreate), s.editBuild},
		{"POST", proj + "/build/:buildId/file", workspaceFront, upload, need(auth.BuildCreate), s.addFiles},

		// Distributions: stable tester pages of a project (tester_distribution.go).
		{"POST", proj + "/distribution", workspaceFront, 0, need(auth.BuildCreateLinks), s.createDistribution},
		{"GET", proj + "/distribution", workspaceFront, 0, need(auth.ProjectRead), s.listDistributions},
		{"GET", proj + "/distribution/:distId", workspaceFront, 0, need(auth.ProjectRead), s.getDistribution},
		{"PATCH", proj + "/distribution/:distId", workspaceFront, 0, need(auth.BuildCreateLinks), s.updateDistribution},
		{"DELETE", proj + "/distribution/:distId", workspaceFront, 0, need(auth.BuildDelete), s.deleteDistribution},
		{"GET", proj + "/distribution/:distId/access-log", workspaceFront, 0, need(auth.ProjectRead), s.distributionAccessLog},
		{"GET", proj + "/distribution/:distId/installs", workspaceFront, 0, need(auth.BuildCreateLinks), s.distributionInstalls},
		{"GET", proj + "/build/:buildId/installs", workspaceFront, 0, need(auth.BuildCreateLinks), s.buildInstalls},
		{"GET", proj + "/build/:buildId/feedback", workspaceFront, 0, need(auth.BuildCreateLinks), s.listFeedback},

		// Webhooks, per project and for a whole workspace (api_webhooks.go).
		{"POST", proj + "/webhook", workspaceFront, 0, need(auth.WorkspaceAdmin), s.createWebhook},
		{"GET", proj + "/webhook", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listWebhooks},
		{"GET", proj + "/webhook/:webhookId", workspaceFront, 0, need(auth.WorkspaceAdmin), s.getWebhook},
		{"PATCH", proj + "/webhook/:webhookId", workspaceFront, 0, need(auth.WorkspaceAdmin), s.updateWebhook},
		{"DELETE", proj + "/webhook/:webhookId", workspaceFront, 0, need(auth.WorkspaceAdmin), s.deleteWebhook},
		{"GET", proj + "/webhook/:webhookId/deliveries", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listDeliveries},
		{"POST", proj + "/webhook/:webhookId/deliveries/:deliveryId/redeliver", workspaceFront, 0, need(auth.WorkspaceAdmin), s.redeliver},
		{"POST", ws + "/webhook", workspaceFront, 0, need(auth.WorkspaceAdmin), s.createWebhook},
		{"GET", ws + "/device", workspaceFront, 0, need(auth.ProjectRead), s.listDevices},
		{"GET", ws + "/device/export", workspaceFront, 0, need(auth.ProjectRead), s.exportDevices},
		{"DELETE", ws + "/device/:udid", workspaceFront, 0, need(auth.WorkspaceAdmin), s.deleteDevice},
		{"GET", ws + "/webhook", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listWebhooks},
		{"GET", ws + "/webhook/:webhookId", workspaceFront, 0, need(auth.WorkspaceAdmin), s.getWebhook},
		{"PATCH", ws + "/webhook/:webhookId", workspaceFront, 0, need(auth.WorkspaceAdmin), s.updateWebhook},
		{"DELETE", ws + "/webhook/:webhookId", workspaceFront, 0, need(auth.WorkspaceAdmin), s.deleteWebhook},
		{"GET", ws + "/webhook/:webhookId/deliveries", workspaceFront, 0, need(auth.WorkspaceAdmin), s.listDeliveries},
		{"POST", ws + "/webhook/:webhookId/deliveries/:deliveryId/redeliver", workspaceFront, 0, need(auth.WorkspaceAdmin), s.redeliver},

		// Totis' Files & Public Links API (docs/apis.md): build files and public links.
		{"GET", proj + "/build/:buildId/file", workspaceFront, 0, need(auth.ProjectRead), s.listBuildFiles},
		{"GET", proj + "/build/:buildId/files", workspaceFront, 0, need(auth.ProjectRead), s.listBuildFileDetails},
		{"GET", proj + "/build/file/:fileId", workspaceFront, 0, need(auth.BuildDownload), s.fileDownloadURL},
		{"DELETE", proj + "/build/file/:fileId", workspaceFront, 0, need(auth.BuildDelete), s.deleteFile},
		{"POST", proj + "/build/files/:fileId/public-link", workspaceFront, 0, need(auth.BuildCreateLinks | auth.BuildShareOpenly), s.createLink},
		{"GET", proj + "/build/:buildId/public-links", workspaceFront, 0, need(auth.BuildDownload), s.listBuildLinks},
		{"DELETE", proj + "/build/files/:fileId/public-links/:publicLinkId", workspaceFront, 0, need(auth.BuildDelete), s.deactivateLink},
		{"GET", proj + "/build/files/:fileId/public-links/:publicLinkId/access-log", workspaceFront, 0, need(auth.ProjectRead), s.accessLog},
		{"GET", "/api/v1/public/file/:publicLinkId/:fileName", workspaceFront, 0, public, s.publicDownload},
		{"HEAD", "/api/v1/public/file/:publicLinkId/:fileName", workspaceFront, 0, public, s.publicDownload},
		{"GET", "/api/v1/public/file/:publicLinkId/qr", workspaceFront, 0, public, s.publicQR},

		// Tester pages (tester.go): a link's, a distribution's, with their
		// QR codes, iOS OTA manifests and counted downloads.
		{"GET", "/p/:publicLinkId", testerFront, 0, public, s.linkTesterPage},
		{"POST", "/p/:publicLinkId", testerFront, 0, public, s.linkTesterPage},
		{"GET", "/p/:publicLinkId/qr", testerFront, 0, public, s.linkQR},
		{"GET", "/p/:publicLinkId/manifest.plist", testerFront, 0, public, s.linkManifest},
		{"GET", "/p/:publicLinkId/apk", testerFront, 0, public, s.linkAPK},
		{"GET", "/p/:publicLinkId/i/:fileName", testerFront, 0, public, s.linkInstall},
		{"HEAD", "/p/:publicLinkId/i/:fileName", testerFront, 0, public, s.linkInstall},
		{"GET", "/p/:publicLinkId/enroll", testerFront, 0, public, s.enrollProfile},
		{"GET", "/p/:publicLinkId/device/:udid", testerFront, 0, public, s.devicePage},
		{"GET", "/d/:ws/:slug", testerFront, 0, public, s.distPage},
		{"POST", "/d/:ws/:slug", testerFront, 0, public, s.distPage},
		{"GET", "/d/:ws/:slug/qr", testerFront, 0, public, s.distQR},
		{"GET", "/d/:ws/:slug/f/:fileId/:fileName", testerFront, 0, public, s.distDownload},
		{"HEAD", "/d/:ws/:slug/f/:fileId/:fileName", testerFront, 0, public, s.distDownload},
		{"GET", "/d/:ws/:slug/i/:fileId/:fileName", testerFront, 0, public, s.distInstall},
		{"HEAD", "/d/:ws/:slug/i/:fileId/:fileName", testerFront, 0, public, s.distInstall},
		{"GET", "/d/:ws/:slug/m/:fileId/manifest.plist", testerFront, 0, public, s.distManifest},
		{"GET", "/d/:ws/:slug/enroll", testerFront, 0, public, s.enrollProfile},
		{"GET", "/d/:ws/:slug/device/:udid", testerFront, 0, public, s.devicePage},
		{"POST", "/d/:ws/:slug/signin", testerFront, 0, public, s.askTesterLink},
		{"POST", "/d/:ws/:slug/feedback", testerFront, upload, public, s.sendFeedback},
		{"GET", "/t/signin/:token", testerFront, secretPath, public, s.testerLinkPage},
		{"POST", "/t/signin/:token", testerFront, secretPath, public, s.useTesterLink},
		{"POST", "/t/signout", testerFront, 0, public, s.testerSignOut},
		{"GET", "/apps", testerFront, 0, public, s.appsPage},
		{"POST", "/apps/signin", testerFront, 0, public, s.askAppsLink},
		{"GET", "/t/unsubscribe/:token", testerFront, secretPath, public, s.unsubscribePage},
		{"POST", "/t/unsubscribe/:token", testerFront, secretPath, public, s.unsubscribe},
		{"POST", "/enroll/:token", testerFront, secretPath, public, s.enrollDevice}, // the token names the page for an hour

		// Applivery's API (docs/apis.md), the organization API: build details, uploads, and the
		// two-step download through a single-use token.
		{"GET", "/v1/organizations/:org/apps", orgFront, 0, need(auth.ProjectRead), s.listOrgApps},
		{"GET", app, orgFront, 0, need(auth.ProjectRead), s.getOrgApp},
		{"GET", app + "/builds", orgFront, 0, need(auth.ProjectRead), s.listOrgBuilds},
		{"GET", app + "/builds/:buildId", orgFront, 0, need(auth.ProjectRead), s.orgBuildDetails},
		{"POST", app + "/builds", orgFront, upload, need(auth.BuildCreate), s.orgUploadBuild},
		{"POST", app + "/builds/:buildId/files", orgFront, upload, need(auth.BuildCreate), s.orgAttachFiles},
		{"GET", app + "/builds/:buildId/downloadToken", orgFront, 0, need(auth.BuildDownload), s.downloadToken},
		// Applivery's Integrations API: an app token's own app, as far as
		// its scope goes (auth.ScopePermissions). Every scope uploads and
		// reads build status and publications (answers carry no download
		// URL: no scope holds BUILD_DOWNLOAD); a publication needs
		// BUILD_CREATE_LINKS, an open one BUILD_SHARE_OPENLY too (checked
		// by the operation, which knows the security asked for).
		{"POST", "/v1/integrations/builds", orgFront, upload, appNeed(auth.BuildCreate), s.orgUploadBuild},
		{"POST", "/v1/integrations/builds/:buildId/files", orgFront, upload, appNeed(auth.BuildCreate), s.orgAttachFiles},
		{"GET", "/v1/integrations/builds", orgFront, 0, appToken, s.listOrgBuilds},
		{"GET", "/v1/integrations/builds/:buildId", orgFront, 0, appToken, s.getIntegrationBuild},
		{"GET", "/v1/integrations/distributions", orgFront, 0, appToken, s.listIntegrationDistributions},
		{"POST", "/v1/integrations/distributions", orgFront, 0, appNeed(auth.BuildCreateLinks), s.createIntegrationDistribution},
		{"GET", "/v1/download/:token", orgFront, secretPath, public, s.redeemDownloadToken},
	}
}

// serve runs one route: it tells the request log the pattern, caps the
// request body, applies the route's access rule and calls the handler.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route, ps httprouter.Params) {
	if lw, ok := w.(*logWriter); ok {
		lw.route, lw.secret = rt.pattern, rt.flags&secretPath != 0
	}
	body := idleBody(w, r.Body, s.cfg.BodyIdleTimeout, s.metrics.bytesRecv)
	if lw, ok := w.(*logWriter); ok && r.ProtoMajor == 1 && awaitsContinue(r) {
		// HTTP/2 ends an unread body's stream by itself.
		lw.waiting, _ = body.(*idleReader)
	}
	if rt.flags&upload == 0 {
		body = http.MaxBytesReader(w, body, s.cfg.MaxRequestBody)
	}
	// Upload bodies have no overall cap: max_upload_size bounds each file
	// (blob.Put), max_request_body each form field, maxParts their number,
	// and the workspace quota what is kept.
	r.Body = body
	if rt.render == appCenterFront && r.Header.Get("Authorization") == "" {
		if t := r.Header.Get("X-API-Token"); t != "" {
			r.Header.Set("Authorization", "Bearer "+t) // App Center's clients send their token there
		}
	}
	c := &call{params: ps, base: s.baseURL(r)}
	err := s.authorize(r, rt.access, c, rt.render == consoleFront)
	if err == nil && c.who != nil && (c.who.mustChangePassword || c.who.mustEnrol) && rt.flags&ownAccount == 0 {
		err = errPasswordChange
		if !c.who.mustChangePassword {
			err = errMustEnrol
		}
		if rt.render == consoleFront && r.Method == http.MethodGet {
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
	}
	c.srv, c.req = s, r
	if err == nil && rt.render == consoleFront && r.Method == http.MethodPost {
		err = s.checkForm(r, c, rt.flags&upload != 0)
	}
	if err == nil {
		err = rt.h(w, r, c)
	}
	if err != nil {
		s.answerError(w, r, rt.render, c, err)
	}
}

// access says who may call a route.
type access struct {
	level accessLevel
	perm  auth.Permission // for levelScoped
}

type accessLevel uint8

const (
	levelPublic        accessLevel = iota // no token
	levelSignedIn                         // a user session or service account token (not an app token)
	levelInstanceAdmin                    // an instance admin
	levelScoped                           // perm in the :ws/:org (and :proj/:app) of the path
	levelApp                              // an app token with perm in its project, which is the request's
)

var (
	public        = access{level: levelPublic}
	signedIn      = access{level: levelSignedIn}
	instanceAdmin = access{level: levelInstanceAdmin}
	appToken      = access{level: levelApp}
)

func need(p auth.Permission) access { return access{level: levelScoped, perm: p} }

func appNeed(p auth.Permission) access { return access{level: levelApp, perm: p} }

// may reports whether the caller holds p in the request's workspace and
// project (public routes: nobody).
func (c *call) may(p auth.Permission) bool {
	if c.who == nil {
		return false
	}
	perms, _ := c.who.permissions(c.ws.ID, c.proj.ID)
	return perms.Has(p)
}

// call is what a handler gets besides the request: the path parameters, the
// authenticated principal (nil on public routes), and the workspace and
// project the path names, already checked against the route's access.
type call struct {
	params httprouter.Params
	base   string // the base of URLs in the answer (see baseURL)
	who    *principal
	ws     store.Workspace
	proj   store.Project
	// The store as the caller (st), made on first use: most requests
	// (downloads, redirects) change nothing and need no actor.
	srv     *Server
	req     *http.Request
	asActor *store.Store
}

// st is the store as the caller: what it changes is recorded in the
// audit log as done by them, from their address.
func (c *call) st() *store.Store {
	if c.asActor == nil {
		c.asActor = c.srv.store.As(c.srv.actor(c.req, c.who))
	}
	return c.asActor
}

// handler serves a route. An error it returns is answered in the shape of
// the route's front (answerError), unless the answer had started: then it
// is only logged.
type handler func(w http.ResponseWriter, r *http.Request, c *call) error
