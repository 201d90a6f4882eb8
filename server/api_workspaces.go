package server

import (
	"cmp"
	"net/http"
	"time"

	"hangar/store"
)

// Handlers for workspaces and projects, the two top levels of the model.

var errBadSlug = errBadRequest("slug must be 1 to 63 lowercase letters, digits and inner dashes")

// workspaceView and projectView are what the API shows of them, with times
// as the reference writes them (RFC 3339, whole seconds).
type workspaceView struct {
	ID           string  `json:"id"`
	Slug         string  `json:"slug"`
	Name         string  `json:"name"`
	StorageUsed  int64   `json:"storageUsed"`
	StorageQuota int64   `json:"storageQuota"`
	CreatedAt    isoTime `json:"createdAt"`
}

func viewWorkspace(w store.Workspace) workspaceView {
	return workspaceView{ID: w.ID, Slug: w.Slug, Name: w.Name, StorageUsed: w.StorageUsed, StorageQuota: w.StorageQuota, CreatedAt: isoTime(w.CreatedAt)}
}

type projectView struct {
	ID          string         `json:"id"`
	WorkspaceID string         `json:"workspaceId"`
	Slug        string         `json:"slug"`
	Name        string         `json:"name"`
	Platform    string         `json:"platform"`
	CreatedAt   isoTime        `json:"createdAt"`
	Retention   *retentionView `json:"retention,omitempty"`
}

// retentionView is a project's own retention (absent: the instance's).
type retentionView struct {
	KeepBuilds    int   `json:"keepBuilds"`
	MaxAgeSeconds int64 `json:"maxAgeSeconds"`
}

func viewProject(p store.Project) projectView {
	v := projectView{ID: p.ID, WorkspaceID: p.WorkspaceID, Slug: p.Slug, Name: p.Name, Platform: p.Platform,
		CreatedAt: isoTime(p.CreatedAt)}
	if r := p.Retention; r != nil {
		v.Retention = &retentionView{KeepBuilds: r.KeepBuilds, MaxAgeSeconds: r.MaxAgeSeconds}
	}
	return v
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request, c *call) error {
	var req createWorkspaceRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ws, err := s.newWorkspace(c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewWorkspace(ws))
	return nil
}

// listWorkspaces lists the workspaces the caller can see.
func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request, c *call) error {
	all, err := s.store.Workspaces()
	if err != nil {
		return err
	}
	out := []workspaceView{}
	for _, ws := range all {
		if _, visible := c.who.permissions(ws.ID, ""); visible {
			out = append(out, viewWorkspace(ws))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type updateWorkspaceRequest struct {
	Name         *string `json:"name"`
	StorageQuota *int64  `json:"storageQuota"`
}

// updateWorkspace changes a workspace's name or storage quota (0: none). A
// quota below the current usage is allowed: it stops further uploads.
func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request, c *call) error {
	var req updateWorkspaceRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.StorageQuota != nil && *req.StorageQuota < 0 {
		return errBadRequest("storageQuota must be 0 (none) or a number of bytes")
	}
	ws, err := s.workspaceOf(c.params)
	if err != nil {
		return notFoundAs(err, "workspace")
	}
	ws, err = c.st().UpdateWorkspace(ws.ID, func(ws *store.Workspace) error {
		if req.Name != nil {
			ws.Name = *req.Name
		}
		if req.StorageQuota != nil {
			ws.StorageQuota = *req.StorageQuota
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewWorkspace(ws))
	return nil
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, viewWorkspace(c.ws))
	return nil
}

type createProjectRequest struct {
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	Platform string `json:"platform"`
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, c *call) error {
	var req createProjectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	p, err := s.newProject(c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewProject(p))
	return nil
}

// newProject creates a project in the request's workspace, as the API and
// the console ask.
func (s *Server) newProject(c *call, req createProjectRequest) (store.Project, error) {
	if !store.ValidSlug(req.Slug) {
		return store.Project{}, errBadSlug
	}
	return c.st().CreateProject(store.Project{WorkspaceID: c.ws.ID, Slug: req.Slug, Name: cmp.Or(req.Name, req.Slug), Platform: req.Platform})
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *call) error {
	ps, err := s.store.Projects(c.ws.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(ps, viewProject))
	return nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, viewProject(c.proj))
	return nil
}

type retentionJSON struct {
	KeepBuilds int    `json:"keepBuilds"`
	MaxAge     string `json:"maxAge"` // a Go duration: "720h"
}

type updateProjectRequest struct {
	Name      *string `json:"name"`
	Platform  *string `json:"platform"`
	Retention *struct {
		retentionJSON
		Clear bool `json:"clear"` // back to the configured defaults
	} `json:"retention"`
}

// updateProject changes a project's name, platform or build retention.
func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, c *call) error {
	var req updateProjectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var ret *store.Retention
	if req.Retention != nil && !req.Retention.Clear {
		age, err := time.ParseDuration(orZero(req.Retention.MaxAge))
		if err != nil || age < 0 || req.Retention.KeepBuilds < 0 {
			return errBadRequest(`retention needs keepBuilds >= 0 and maxAge a duration such as "720h" ("0s": any age)`)
		}
		ret = &store.Retention{KeepBuilds: req.Retention.KeepBuilds, MaxAgeSeconds: int64(age / time.Second)}
	}
	p, err := c.st().UpdateProject(c.proj.ID, func(p *store.Project) error {
		if req.Name != nil {
			p.Name = *req.Name
		}
		if req.Platform != nil {
			p.Platform = *req.Platform
		}
		if req.Retention != nil {
			p.Retention = ret
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewProject(p))
	return nil
}

func orZero(d string) string {
	if d == "" {
		return "0s"
	}
	return d
}
