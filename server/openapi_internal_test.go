package server

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hangar/config"
)

// The OpenAPI description (openapi.json, served at /api/openapi.json) is
// made here from the route table, the answer and request types the
// handlers use (read by reflection, so a field added to a view is in the
// description at once) and apiDocs below, which says per route what it
// takes and answers. TestOpenAPIDescription fails when a route of the
// APIs has no entry, an entry no route, or openapi.json is not what this
// makes (go test ./server -run TestOpenAPIDescription -update writes it);
// the suite's own traffic is validated against the file (openapi_test.go).

// updating says whether -update was given (golden_test.go defines it:
// the golden files and this one are rewritten together).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// opDoc describes one route of the APIs.
type opDoc struct {
	summary string
	in      any // request body: nil, a JSON value's type, or a media type (string)
	answers []answer
	query   []string // query parameters: "name" (string) or "name:integer"
}

// answer is one status an operation gives, and its body: nil, a Go value
// whose JSON is the body, a media type (string), or a schema (jsonSchema).
type answer struct {
	code int
	body any
}

type jsonSchema map[string]any

func ok(body any) []answer      { return []answer{{200, body}} }
func created(body any) []answer { return []answer{{201, body}} }

var (
	noContent = []answer{{204, nil}}
	redirect  = answer{302, nil}
	anyJSON   = jsonSchema{}
	status    = jsonSchema{"type": "object", "properties": map[string]any{"status": map[string]any{"type": "string"}}, "required": []string{"status"}}
)

// orgData is the organization API's envelope around data.
type orgData struct{ v any }

// orgList is its list page around items of v.
type orgList struct{ v any }

const (
	docWS   = "/api/v1/workspace/:ws"
	docProj = docWS + "/project/:proj"
	docApp  = "/v1/organizations/:org/apps/:app"
	docAC   = "/v0.1/apps/:org/:app"
)

var paging = []string{"page:integer", "limit:integer", "cursor"}

// apiDocs has an entry per route of the workspace, organization and
// App Center fronts, keyed "METHOD pattern" as in the route table.
var apiDocs = map[string]opDoc{
	"GET /api/openapi.json":               {"This description", nil, ok(anyJSON), nil},
	"GET /healthz":                        {"Liveness: the process is up", nil, ok(status), nil},
	"GET /readyz":                         {"Readiness: the database commits and the disk has room", nil, []answer{{200, status}, {503, status}}, nil},
	"GET /metrics":                        {"Prometheus metrics", nil, ok("text/plain"), nil},
	"GET /icon/:glyph/:size":              {"A placeholder icon for manifests of packages without one", nil, ok("image/png"), nil},
	"GET /dl/:fileId/:fileName":           {"Download a file through a signed URL (its own media type)", nil, []answer{{200, "*/*"}, {206, "*/*"}, {304, nil}, {416, nil}}, []string{"exp", "kid", "sig", "m"}},
	"HEAD /dl/:fileId/:fileName":          {"A signed URL's headers", nil, []answer{{200, "*/*"}, {304, nil}}, []string{"exp", "kid", "sig", "m"}},
	"POST /api/v1/auth/login":             {"Sign in: a session token", loginRequest{}, ok(loginResponse{}), nil},
	"POST /api/v1/auth/logout":            {"End this session", nil, noContent, nil},
	"GET /api/v1/auth/session":            {"Your sessions", nil, ok([]sessionView{}), nil},
	"DELETE /api/v1/auth/session/:prefix": {"End one of your sessions", nil, noContent, nil},
	"POST /api/v1/user":                   {"Create a user", createUserRequest{}, created(userView{}), nil},
	"GET /api/v1/user":                    {"List users", nil, ok([]userView{}), nil},
	"PUT /api/v1/user/:username/password": {"Set a password (your own, or as an admin)", passwordRequest{}, noContent, nil},
	"GET /api/v1/token":                   {"List every token", nil, ok([]tokenView{}), nil},
	"DELETE /api/v1/token/:prefix":        {"Revoke a token", nil, noContent, nil},
	"GET /api/v1/audit":                   {"The audit log", nil, ok(auditPage{}), []string{"limit:integer", "cursor", "action", "actor", "since", "until"}},
	"GET /api/v1/audit/export":            {"The audit log as JSON lines", nil, ok("application/x-ndjson"), []string{"action", "actor", "since", "until"}},
	"POST /api/v1/user/:username/disable": {"Disable a user (every credential refused at once)", nil, ok(userView{}), nil},
	"POST /api/v1/user/:username/enable":  {"Enable a user", nil, ok(userView{}), nil},
	"DELETE /api/v1/user/:username":       {"Delete a user", nil, noContent, nil},
	"POST /api/v1/user/:username/email":   {"Change your address (confirmed by mail)", emailRequest{}, []answer{{202, anyJSON}}, nil},
	"POST /api/v1/invitation":             {"Invite a person", inviteRequest{}, created(invitationView{}), nil},
	"GET /api/v1/invitation":              {"Pending invitations", nil, ok([]invitationView{}), nil},
	"DELETE /api/v1/invitation/:id":       {"Revoke an invitation", nil, noContent, nil},
	"POST /api/v1/invitation/:id/accept":  {"Accept an invitation (the link's token is the credential)", acceptRequest{}, created(userView{}), nil},
	"POST /api/v1/auth/forgot":            {"Mail a password reset link", forgotRequest{}, []answer{{202, nil}}, nil},
	"POST /api/v1/auth/reset/:id":         {"Reset a password with a mailed link", resetRequest{}, noContent, nil},
	"POST /api/v1/auth/confirm-email/:id": {"Confirm a changed address", nil, ok(userView{}), nil},
	"POST /api/v1/tester-signout":         {"End a tester's sessions everywhere", anyJSON, noContent, nil},

	"GET " + docWS + "/audit":                            {"The workspace's audit log", nil, ok(auditPage{}), []string{"limit:integer", "cursor", "action", "actor", "since", "until"}},
	"GET " + docWS + "/audit/export":                     {"The workspace's audit log as JSON lines", nil, ok("application/x-ndjson"), []string{"action", "actor", "since", "until"}},
	"POST " + docWS + "/tester-group":                    {"Create a tester group", testerGroupRequest{}, created(testerGroupView{}), nil},
	"GET " + docWS + "/tester-group":                     {"List tester groups", nil, ok([]testerGroupView{}), nil},
	"GET " + docWS + "/tester-group/:group":              {"One tester group", nil, ok(testerGroupView{}), nil},
	"PATCH " + docWS + "/tester-group/:group":            {"Change a tester group", testerGroupRequest{}, ok(testerGroupView{}), nil},
	"DELETE " + docWS + "/tester-group/:group":           {"Delete a tester group", nil, noContent, nil},
	"POST " + docWS + "/tester-group/:group/members.csv": {"Import a group's addresses (CSV)", "text/csv", ok(testerGroupView{}), []string{"replace"}},
	"POST " + docWS + "/tester-signout":                  {"End a tester's sessions in the workspace", anyJSON, noContent, nil},
	"GET " + docWS + "/tester-installs":                  {"Who installed what, in the workspace (format=csv: as CSV)", nil, append(ok([]installView{}), answer{200, "text/csv"}), append([]string{"format", "email"}, paging...)},
	"PUT " + docWS + "/feedback-mail":                    {"Mail me testers' feedback", anyJSON, noContent, nil},
	"POST " + docWS + "/invitation":                      {"Invite a person into the workspace", inviteRequest{}, created(invitationView{}), nil},
	"GET " + docWS + "/invitation":                       {"The workspace's pending invitations", nil, ok([]invitationView{}), nil},
	"DELETE " + docWS + "/invitation/:id":                {"Revoke an invitation", nil, noContent, nil},

	"GET /api/v1/admin/backup": {"A consistent backup (tar)", nil, ok("application/x-tar"), nil},
	"POST /api/v1/admin/fsck":  {"Check metadata and blobs", fsckRequest{}, ok(fsckResponse{}), nil},
	"POST /api/v1/admin/gc":    {"Remove expired tokens and old access logs", nil, ok(gcView{}), nil},

	"POST /api/v1/workspace":                                 {"Create a workspace", createWorkspaceRequest{}, created(workspaceView{}), nil},
	"GET /api/v1/workspace":                                  {"Your workspaces", nil, ok([]workspaceView{}), nil},
	"GET " + docWS:                                           {"One workspace", nil, ok(workspaceView{}), nil},
	"PATCH " + docWS:                                         {"Change a workspace (name, storage quota)", updateWorkspaceRequest{}, ok(workspaceView{}), nil},
	"GET " + docWS + "/member":                               {"Members", nil, ok([]memberView{}), nil},
	"PUT " + docWS + "/member":                               {"Give a user or service account a role", setMemberRequest{}, ok(memberView{}), nil},
	"DELETE " + docWS + "/member/:kind/:id":                  {"Remove a member", nil, noContent, nil},
	"POST " + docWS + "/service-account":                     {"Create a service account (and its token)", createServiceAccountRequest{}, created(createServiceAccountResponse{}), nil},
	"GET " + docWS + "/service-account":                      {"Service accounts", nil, ok([]serviceAccountView{}), nil},
	"DELETE " + docWS + "/service-account/:id":               {"Delete a service account", nil, noContent, nil},
	"POST " + docWS + "/service-account/:id/token":           {"A new token for a service account", createTokenRequest{}, created(newTokenResponse{}), nil},
	"DELETE " + docWS + "/service-account/:id/token/:prefix": {"Revoke a service account's token", nil, noContent, nil},

	"POST " + docWS + "/project":               {"Create a project", createProjectRequest{}, created(projectView{}), nil},
	"GET " + docWS + "/project":                {"Projects", nil, ok([]projectView{}), nil},
	"GET " + docProj:                           {"One project", nil, ok(projectView{}), nil},
	"PATCH " + docProj:                         {"Change a project (name, retention)", updateProjectRequest{}, ok(projectView{}), nil},
	"POST " + docProj + "/app-token":           {"An app token for CI", createAppTokenRequest{}, created(newTokenResponse{}), nil},
	"GET " + docProj + "/app-token":            {"The project's app tokens", nil, ok([]tokenView{}), nil},
	"DELETE " + docProj + "/app-token/:prefix": {"Revoke an app token", nil, noContent, nil},

	"POST " + docProj + "/build":                                                    {"Upload a build: a form, JSON fields, nothing, or the package raw (?name=)", "upload", created(buildView{}), []string{"name", "version", "buildNumber", "notes", "tags", "notify", "notifyMessage"}},
	"GET " + docProj + "/build":                                                     {"Builds, newest first", nil, ok([]buildView{}), paging},
	"GET " + docProj + "/build/:buildId":                                            {"One build with its files", nil, ok(buildView{}), nil},
	"DELETE " + docProj + "/build/:buildId":                                         {"Delete a build and its files", nil, noContent, nil},
	"PATCH " + docProj + "/build/:buildId":                                          {"Change a build's tags and release notes", anyJSON, ok(buildView{}), nil},
	"POST " + docProj + "/build/:buildId/file":                                      {"Add files: a form, or one raw body (?name=, Content-Digest)", "upload", created([]fileEntry{}), []string{"name"}},
	"GET " + docProj + "/build/:buildId/file":                                       {"A build's files", nil, ok([]fileEntry{}), nil},
	"GET " + docProj + "/build/:buildId/files":                                      {"A build's files (details)", nil, ok([]fileDetails{}), nil},
	"GET " + docProj + "/build/file/:fileId":                                        {"A file's signed download URL", nil, ok("text/plain"), nil},
	"DELETE " + docProj + "/build/file/:fileId":                                     {"Delete a file", nil, noContent, nil},
	"POST " + docProj + "/build/files/:fileId/public-link":                          {"Create a public link", createLinkRequest{}, created(linkView{}), nil},
	"GET " + docProj + "/build/:buildId/public-links":                               {"A build's public links", nil, ok([]linkView{}), nil},
	"DELETE " + docProj + "/build/files/:fileId/public-links/:publicLinkId":         {"Deactivate a public link", nil, noContent, nil},
	"GET " + docProj + "/build/files/:fileId/public-links/:publicLinkId/access-log": {"A link's downloads", nil, ok([]accessLogView{}), paging},
	"GET " + docProj + "/build/:buildId/installs":                                   {"Who installed a build (format=csv: as CSV)", nil, append(ok([]installView{}), answer{200, "text/csv"}), append([]string{"format"}, paging...)},
	"GET " + docProj + "/build/:buildId/feedback":                                   {"Testers' reports on a build", nil, ok([]feedbackView{}), nil},
	"GET /api/v1/public/file/:publicLinkId/:fileName":                               {"Download through a public link (counted); a browser without the password is sent to the link's page", nil, []answer{redirect, {303, "text/html"}}, []string{"password"}},
	"HEAD /api/v1/public/file/:publicLinkId/:fileName":                              {"A public link's file's headers, uncounted", nil, []answer{{200, "*/*"}, redirect}, nil},
	"GET /api/v1/public/file/:publicLinkId/qr":                                      {"A public link's QR code", nil, ok("image/png"), nil},

	"POST " + docProj + "/distribution":                   {"Create a distribution page", distributionRequest{}, created(distributionView{}), nil},
	"GET " + docProj + "/distribution":                    {"Distribution pages", nil, ok([]distributionView{}), nil},
	"GET " + docProj + "/distribution/:distId":            {"One distribution page", nil, ok(distributionView{}), nil},
	"PATCH " + docProj + "/distribution/:distId":          {"Change a distribution page", distributionRequest{}, ok(distributionView{}), nil},
	"DELETE " + docProj + "/distribution/:distId":         {"Delete a distribution page", nil, noContent, nil},
	"GET " + docProj + "/distribution/:distId/access-log": {"A distribution's downloads", nil, ok([]accessLogView{}), paging},
	"GET " + docProj + "/distribution/:distId/installs":   {"Who installed from a distribution (format=csv: as CSV)", nil, append(ok([]installView{}), answer{200, "text/csv"}), append([]string{"format"}, paging...)},

	"GET " + docWS + "/device":          {"Registered devices", nil, ok([]deviceEntry{}), nil},
	"GET " + docWS + "/device/export":   {"Devices for Apple's portal (tab-separated)", nil, ok("text/tab-separated-values"), nil},
	"DELETE " + docWS + "/device/:udid": {"Forget a device", nil, noContent, nil},

	"GET /v1/organizations/:org/apps":                  {"Apps (projects) of an organization (workspace)", nil, ok(orgList{orgApp{}}), []string{"page:integer", "limit:integer"}},
	"GET " + docApp:                                    {"One app", nil, ok(orgData{orgApp{}}), nil},
	"GET " + docApp + "/builds":                        {"An app's builds", nil, ok(orgList{orgBuild{}}), []string{"page:integer", "limit:integer", "status", "tag", "versionName"}},
	"GET " + docApp + "/builds/:buildId":               {"One build", nil, ok(orgData{orgBuild{}}), nil},
	"POST " + docApp + "/builds":                       {"Upload a build", "multipart/form-data", created(orgData{orgBuild{}}), nil},
	"POST " + docApp + "/builds/:buildId/files":        {"Add files to a build", "multipart/form-data", created(orgData{orgBuild{}}), nil},
	"GET " + docApp + "/builds/:buildId/downloadToken": {"A single-use download token", nil, ok(orgData{downloadTokenData{}}), nil},
	"POST /v1/integrations/builds":                     {"Upload a build (app token)", "multipart/form-data", created(orgData{orgBuild{}}), nil},
	"POST /v1/integrations/builds/:buildId/files":      {"Add files to a build (app token)", "multipart/form-data", created(orgData{orgBuild{}}), nil},
	"GET /v1/integrations/builds":                      {"The app's builds (app token)", nil, ok(orgList{orgBuild{}}), []string{"page:integer", "limit:integer", "status", "tag", "versionName"}},
	"GET /v1/integrations/builds/:buildId":             {"One build (app token)", nil, ok(orgData{orgBuild{}}), nil},
	"GET /v1/integrations/distributions":               {"The app's publications (app token)", nil, ok(orgList{orgPublication{}}), []string{"page:integer", "limit:integer", "slug", "filterType", "filterValue", "visibility", "security"}},
	"POST /v1/integrations/distributions":              {"Create a publication (app token)", publicationRequest{}, created(orgData{orgPublication{}}), nil},
	"GET /v1/download/:token":                          {"Redeem a download token", nil, []answer{redirect}, nil},

	"GET " + docAC:                                         {"The app (project)", nil, ok(appCenterApp{}), nil},
	"POST " + docAC + "/uploads/releases":                  {"Begin a release upload", anyJSON, created(releaseUploadView{}), nil},
	"GET " + docAC + "/uploads/releases/:uploadId":         {"A release upload's state", nil, ok(anyJSON), nil},
	"PATCH " + docAC + "/uploads/releases/:uploadId":       {"Commit (or abort) a release upload", anyJSON, ok(anyJSON), nil},
	"GET " + docAC + "/releases":                           {"Releases", nil, ok(anyJSON), nil},
	"GET " + docAC + "/releases/:releaseId":                {"One release", nil, ok(appCenterRelease{}), nil},
	"PUT " + docAC + "/releases/:releaseId":                {"Change a release", anyJSON, ok(appCenterRelease{}), nil},
	"PATCH " + docAC + "/releases/:releaseId":              {"Change a release", anyJSON, ok(appCenterRelease{}), nil},
	"DELETE " + docAC + "/releases/:releaseId":             {"Delete a release", nil, []answer{{200, nil}}, nil},
	"POST " + docAC + "/releases/:releaseId/groups":        {"Distribute a release to a group", anyJSON, created(anyJSON), nil},
	"GET " + docAC + "/distribution_groups":                {"Distribution groups (tester groups)", nil, ok([]appCenterGroup{}), nil},
	"GET " + docAC + "/distribution_groups/:group":         {"One distribution group", nil, ok(appCenterGroup{}), nil},
	"GET " + docAC + "/distribution_groups/:group/members": {"A group's members", nil, ok(anyJSON), nil},
	"POST " + docAC + "/symbol_uploads":                    {"Begin a symbol upload", anyJSON, ok(anyJSON), nil},
	"PATCH " + docAC + "/symbol_uploads/:uploadId":         {"Commit a symbol upload", anyJSON, ok(anyJSON), nil},
	"POST /v0.1/orgs/:org/distribution_groups/:group/apps": {"Add an app to a group", anyJSON, []answer{{409, anyJSON}}, nil},
	"PUT /upload/symbols/:asset":                           {"Upload symbols (the upload's token in the query; any media type)", "*/*", []answer{{201, nil}}, []string{"token"}},
	"POST /upload/set_metadata/:asset":                     {"Describe the file to upload", nil, ok(anyJSON), []string{"token", "file_name", "file_size:integer", "content_type"}},
	"POST /upload/upload_chunk/:asset":                     {"Upload one chunk (any media type)", "*/*", ok(anyJSON), []string{"token", "block_number:integer"}},
	"POST /upload/finished/:asset":                         {"Finish the upload", nil, ok(anyJSON), []string{"token"}},
}

// The webhooks of a project and of a workspace have the same routes.
func init() {
	for prefix, whose := range map[string]string{docProj: "project", docWS: "workspace"} {
		hook := prefix + "/webhook"
		for key, d := range map[string]opDoc{
			"POST " + hook:                           {"Create a " + whose + " webhook", webhookRequest{}, created(webhookView{}), nil},
			"GET " + hook:                            {"The " + whose + "'s webhooks", nil, ok([]webhookView{}), nil},
			"GET " + hook + "/:webhookId":            {"One webhook", nil, ok(webhookView{}), nil},
			"PATCH " + hook + "/:webhookId":          {"Change a webhook", webhookRequest{}, ok(webhookView{}), nil},
			"DELETE " + hook + "/:webhookId":         {"Delete a webhook", nil, noContent, nil},
			"GET " + hook + "/:webhookId/deliveries": {"A webhook's deliveries", nil, ok([]deliveryView{}), nil},
			"POST " + hook + "/:webhookId/deliveries/:deliveryId/redeliver": {"Send a delivery again", nil, []answer{{202, deliveryView{}}}, nil},
		} {
			apiDocs[key] = d
		}
	}
}

// described says whether a route is in the description: every route of
// the APIs; pages (the console's, testers') are not.
func described(rt route) bool { return rt.render != consoleFront && rt.render != testerFront }

func TestOpenAPIDescription(t *testing.T) {
	s := &Server{cfg: config.Default()}
	seen := map[string]bool{}
	for _, rt := range s.table() {
		key := rt.method + " " + rt.pattern
		if !described(rt) {
			continue
		}
		seen[key] = true
		if _, ok := apiDocs[key]; !ok {
			t.Errorf("route %s is not described: add it to apiDocs (server/openapi_internal_test.go)", key)
		}
	}
	for key := range apiDocs {
		if !seen[key] {
			t.Errorf("apiDocs describes %s, which is not a route of the APIs", key)
		}
	}
	if t.Failed() {
		return
	}
	doc, err := json.MarshalIndent(openAPIDocument(s), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, '\n')
	if updating() {
		if err := os.WriteFile("openapi.json", doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile("openapi.json")
	if err != nil || !bytes.Equal(committed, doc) {
		t.Fatalf("openapi.json is not what the route table and apiDocs make: go test ./server -run TestOpenAPIDescription -update (%v)", err)
	}
}

// components are the named schemas: a struct type's, made once and
// referred to.
var components map[string]any

// openAPIDocument is the OpenAPI 3.1 description of the APIs.
func openAPIDocument(s *Server) map[string]any {
	components = map[string]any{}
	paths := map[string]map[string]any{}
	for _, rt := range s.table() {
		if !described(rt) {
			continue
		}
		d := apiDocs[rt.method+" "+rt.pattern]
		path, params := openAPIPath(rt.pattern)
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     d.summary,
			"tags":        []string{tagOf(rt)},
			"responses":   responsesOf(rt, d),
		}
		for _, q := range d.query {
			name, typ, found := strings.Cut(q, ":")
			if !found {
				typ = "string"
			}
			params = append(params, map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": typ}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if body := requestOf(d.in); body != nil {
			op["requestBody"] = body
		}
		switch {
		case rt.access == public:
			op["security"] = []any{}
		case rt.pattern == "/metrics": // metrics_public opens it
			op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{}}
		case rt.render == appCenterFront:
			op["security"] = []any{map[string]any{"appCenterToken": []string{}}, map[string]any{"bearer": []string{}}}
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.method)] = op
	}
	errorSchema := func(props map[string]any, required ...string) map[string]any {
		return map[string]any{"type": "object", "properties": props, "required": required}
	}
	str := map[string]any{"type": "string"}
	components["Error"] = errorSchema(map[string]any{"error": str, "message": str}, "error", "message")
	components["OrgError"] = errorSchema(map[string]any{"status": map[string]any{"const": false},
		"error": errorSchema(map[string]any{"code": map[string]any{"type": "integer"}, "message": str}, "code", "message")}, "status", "error")
	components["AppCenterError"] = errorSchema(map[string]any{"code": str, "message": str, "error": map[string]any{"type": "boolean"}}, "code", "message")
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Hangar",
			"version":     "1",
			"description": "Hangar's workspace API, the organization and Integrations APIs of Applivery's clients, and App Center's API. Made from the route table by server/openapi_internal_test.go; docs/ci.md says what each does.",
			"license":     map[string]any{"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
		},
		"servers": []any{map[string]any{"url": "/"}},
		"tags": []any{
			map[string]any{"name": "workspace", "description": "Hangar's own API (Totis' Files & Public Links API and what surrounds it)"},
			map[string]any{"name": "accounts", "description": "Sessions, users, tokens, invitations, the audit log"},
			map[string]any{"name": "operations", "description": "Health, metrics, backup and checks, delivery"},
			map[string]any{"name": "organization", "description": "Applivery's organization and Integrations APIs"},
			map[string]any{"name": "appcenter", "description": "App Center's API and upload domain"},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer":         map[string]any{"type": "http", "scheme": "bearer", "description": "A token (hgr_…) or a session's"},
				"appCenterToken": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Token"},
			},
			"schemas": components,
		},
	}
}

var routeParam = regexp.MustCompile(`[:*]([A-Za-z]+)`)

// openAPIPath turns an httprouter pattern into an OpenAPI path and its
// path parameters.
func openAPIPath(pattern string) (string, []any) {
	var params []any
	for _, m := range routeParam.FindAllStringSubmatch(pattern, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	return routeParam.ReplaceAllString(pattern, "{$1}"), params
}

// operationID is unique: the method and the path's words.
func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, w := range regexp.MustCompile(`[A-Za-z0-9]+`).FindAllString(strings.TrimPrefix(rt.pattern, "/api/v1"), -1) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func tagOf(rt route) string {
	p := rt.pattern
	switch {
	case rt.render == orgFront:
		return "organization"
	case rt.render == appCenterFront:
		return "appcenter"
	case strings.HasPrefix(p, "/api/v1/auth") || strings.HasPrefix(p, "/api/v1/user") || strings.HasPrefix(p, "/api/v1/token") ||
		strings.HasPrefix(p, "/api/v1/invitation") || strings.HasPrefix(p, "/api/v1/audit") || strings.HasSuffix(p, "/audit") ||
		strings.HasSuffix(p, "/audit/export") || strings.Contains(p, "/invitation") || strings.Contains(p, "/member") || strings.Contains(p, "/service-account"):
		return "accounts"
	case strings.HasPrefix(p, "/api/v1/workspace") || strings.HasPrefix(p, "/api/v1/public") || p == "/api/v1/tester-signout":
		return "workspace"
	}
	return "operations"
}

func requestOf(in any) map[string]any {
	switch v := in.(type) {
	case nil:
		return nil
	case string:
		switch v {
		case "upload": // a new build: a form, JSON fields, or the package raw (any type)
			return map[string]any{"content": map[string]any{
				"multipart/form-data": map[string]any{},
				"application/json":    map[string]any{"schema": map[string]any{"type": "object"}},
				"*/*":                 map[string]any{},
			}}
		case "files": // a build's files: a form, or one raw body of any type
			return map[string]any{"content": map[string]any{"multipart/form-data": map[string]any{}, "*/*": map[string]any{}}}
		}
		return map[string]any{"content": map[string]any{v: map[string]any{}}}
	}
	return map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(in, true)}}}
}

func responsesOf(rt route, d opDoc) map[string]any {
	out := map[string]any{}
	for _, a := range d.answers {
		r, _ := out[fmt.Sprint(a.code)].(map[string]any)
		if r == nil {
			r = map[string]any{"description": httpStatusText(a.code)}
			out[fmt.Sprint(a.code)] = r
		}
		if a.body == nil {
			continue
		}
		content, _ := r["content"].(map[string]any)
		if content == nil {
			content = map[string]any{}
			r["content"] = content
		}
		if v, isMedia := a.body.(string); isMedia {
			content[v] = map[string]any{}
		} else {
			content["application/json"] = map[string]any{"schema": schemaOf(a.body, false)}
		}
	}
	ref := "#/components/schemas/Error"
	switch rt.render {
	case orgFront:
		ref = "#/components/schemas/OrgError"
	case appCenterFront:
		ref = "#/components/schemas/AppCenterError"
	}
	errorBody := map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": ref}}}
	out["4XX"] = map[string]any{"description": "Refused: the request, its credential or the state of things; the error in this API's shape", "content": errorBody}
	out["default"] = map[string]any{"description": "A failure of the server, in this API's shape", "content": errorBody}
	return out
}

func httpStatusText(code int) string {
	return map[int]string{200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
		302: "Found: a redirect to the content", 304: "Not Modified", 409: "Conflict", 416: "Range Not Satisfiable", 503: "Not ready"}[code]
}

// schemaOf is the JSON Schema of a Go value's JSON: from its type's
// fields and tags. Answers allow no other properties (a field added to a
// view must be here, and is, being read from it); requests are as strict
// as decodeJSON, which refuses unknown fields, except where noted.
func schemaOf(v any, request bool) map[string]any {
	switch v := v.(type) {
	case jsonSchema:
		return v
	case orgData:
		return envelope(schemaOf(v.v, request))
	case orgList:
		props := map[string]any{"items": map[string]any{"type": "array", "items": schemaOf(v.v, request)}}
		f := reflect.TypeFor[orgListPage]()
		for i := range f.NumField() {
			if name, _, _ := strings.Cut(f.Field(i).Tag.Get("json"), ","); name != "items" {
				props[name] = map[string]any{"type": "integer"}
			}
		}
		return envelope(map[string]any{"type": "object", "properties": props, "additionalProperties": false})
	}
	return schemaFor(reflect.TypeOf(v), request)
}

func envelope(data map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{"status": map[string]any{"const": true}, "data": data},
		"required": []string{"status", "data"}, "additionalProperties": false}
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	isoType    = reflect.TypeFor[isoTime]()
	rawMessage = reflect.TypeFor[json.RawMessage]()
	marshaler  = reflect.TypeFor[json.Marshaler]()
)

func schemaFor(t reflect.Type, request bool) map[string]any {
	switch {
	case t == timeType || t == isoType:
		return map[string]any{"type": "string"}
	case t == rawMessage:
		return map[string]any{}
	case t.Kind() == reflect.Pointer:
		s := schemaFor(t.Elem(), request)
		return orNull(s)
	case t.Implements(marshaler) || reflect.PointerTo(t).Implements(marshaler):
		return map[string]any{} // its own JSON
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string"}
		}
		return map[string]any{"type": "array", "items": schemaFor(t.Elem(), request)}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			// Any value, null included. Said as true, not {}: kin-openapi
			// 0.153.0 takes {} to refuse null (its OpenAPI 3.0 reading).
			return map[string]any{"type": "object", "additionalProperties": true}
		}
		return map[string]any{"type": "object", "additionalProperties": schemaFor(t.Elem(), request)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if name != "" {
			name = strings.ToUpper(name[:1]) + name[1:]
			if request {
				name += "Input"
			}
		}
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, done := components[name]; done && name != "" {
			return ref
		}
		if name != "" {
			components[name] = nil // being made: a recursive type refers to itself
		}
		props, required := map[string]any{}, []string{}
		structFields(t, request, props, &required)
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 && !request {
			slices.Sort(required)
			s["required"] = required
		}
		if name == "" {
			return s
		}
		components[name] = s
		return ref
	}
	panic("openapi: no schema for " + t.String())
}

// orNull lets a schema also be null (a nil pointer, slice or map).
func orNull(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok {
		c := map[string]any{}
		for k, v := range s {
			c[k] = v
		}
		c["type"] = []string{typ, "null"}
		return c
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func structFields(t reflect.Type, request bool, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				structFields(ft, request, props, required)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		s := schemaFor(f.Type, request)
		omitempty := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		if k := f.Type.Kind(); !omitempty && (k == reflect.Slice || k == reflect.Map) && s["type"] != nil {
			s = orNull(s) // a nil slice or map is null
		}
		props[name] = s
		if !omitempty {
			*required = append(*required, name)
		}
	}
}
