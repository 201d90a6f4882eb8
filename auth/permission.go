package auth

import "strings"

// Permission is a set of the permissions of docs/design.md.
type Permission uint16

const (
	ProjectRead Permission = 1 << iota
	BuildCreate
	BuildDownload
	BuildDelete
	BuildCreateLinks
	WorkspaceAdmin
	// BuildShareOpenly: make links and pages that people outside the
	// workspace can open (public, or behind a shared password). Beside
	// BuildCreateLinks, which alone allows members-only pages.
	BuildShareOpenly

	// All is every permission: what an instance admin and a workspace
	// admin hold.
	All = ProjectRead | BuildCreate | BuildDownload | BuildDelete | BuildCreateLinks | WorkspaceAdmin | BuildShareOpenly
)

var permissionNames = []string{"PROJECT_READ", "BUILD_CREATE", "BUILD_DOWNLOAD", "BUILD_DELETE", "BUILD_CREATE_LINKS", "WORKSPACE_ADMIN", "BUILD_SHARE_OPENLY"}

// String returns the permission names joined by "|".
func (p Permission) String() string {
	var names []string
	for i, n := range permissionNames {
		if p&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, "|")
}

// Has reports whether p includes every permission in q.
func (p Permission) Has(q Permission) bool { return p&q == q }

// Roles, as stored in memberships.
const (
	RoleViewer    = "viewer"
	RoleCI        = "ci"
	RoleDeveloper = "developer"
	RoleAdmin     = "admin"
)

var rolePermissions = map[string]Permission{
	RoleViewer:    ProjectRead | BuildDownload,
	RoleCI:        ProjectRead | BuildCreate | BuildDownload,
	RoleDeveloper: ProjectRead | BuildCreate | BuildDownload | BuildDelete | BuildCreateLinks | BuildShareOpenly,
	RoleAdmin:     All,
}

// RolePermissions returns what a role grants, and false for an unknown role.
func RolePermissions(role string) (Permission, bool) {
	p, ok := rolePermissions[role]
	return p, ok
}

// ValidRole reports whether role is one of the four roles.
func ValidRole(role string) bool {
	_, ok := rolePermissions[role]
	return ok
}

// App token scopes: what a project's CI token may do there, chosen when
// the token is made. Every scope uploads builds and files and reads the
// status of the project's builds (never a download URL: an app token
// holds no BuildDownload); none reads anything else.
const (
	// ScopeUpload is the default: upload only.
	ScopeUpload = "upload"
	// ScopePublish also creates and changes the project's distribution
	// pages (Applivery's publications), members-only ones alone.
	ScopePublish = "publish"
	// ScopePublishOpenly also makes them public or password-protected:
	// what Applivery's CI clients ask for by default.
	ScopePublishOpenly = "publish-openly"
)

var scopePermissions = map[string]Permission{
	ScopeUpload:        BuildCreate,
	ScopePublish:       BuildCreate | BuildCreateLinks,
	ScopePublishOpenly: BuildCreate | BuildCreateLinks | BuildShareOpenly,
}

// Scopes lists the app token scopes, narrowest first.
var Scopes = []string{ScopeUpload, ScopePublish, ScopePublishOpenly}

// ScopePermissions returns what an app token of scope may do in its
// project ("" is ScopeUpload, as for tokens made before scopes), and
// false for an unknown scope.
func ScopePermissions(scope string) (Permission, bool) {
	if scope == "" {
		scope = ScopeUpload
	}
	p, ok := scopePermissions[scope]
	return p, ok
}
