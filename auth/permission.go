package auth

import "strings"

// Permission is a set of the design's permissions.
type Permission uint16

const (
	ProjectRead Permission = 1 << iota
	BuildCreate
	BuildDownload
	BuildDelete
	BuildCreateLinks
	WorkspaceAdmin

	// All is every permission: what an instance admin and a workspace
	// admin hold.
	All = ProjectRead | BuildCreate | BuildDownload | BuildDelete | BuildCreateLinks | WorkspaceAdmin
)

var permissionNames = []string{"PROJECT_READ", "BUILD_CREATE", "BUILD_DOWNLOAD", "BUILD_DELETE", "BUILD_CREATE_LINKS", "WORKSPACE_ADMIN"}

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
	RoleDeveloper: ProjectRead | BuildCreate | BuildDownload | BuildDelete | BuildCreateLinks,
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
