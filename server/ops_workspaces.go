package server

import (
	"cmp"

	"hangar/store"
)

// Operations on workspaces that every front shares (the workspace API, the
// console, the command line through the API): they know no HTTP.

type createWorkspaceRequest struct {
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	StorageQuota int64  `json:"storageQuota"`
}

// newWorkspace creates a workspace, as the API and the console ask.
func (s *Server) newWorkspace(c *call, req createWorkspaceRequest) (store.Workspace, error) {
	if !store.ValidSlug(req.Slug) {
		return store.Workspace{}, errBadSlug
	}
	if req.StorageQuota < 0 {
		return store.Workspace{}, errBadRequest("storageQuota must be 0 (none) or a number of bytes")
	}
	return c.st().CreateWorkspace(store.Workspace{Slug: req.Slug, Name: cmp.Or(req.Name, req.Slug), StorageQuota: req.StorageQuota})
}
