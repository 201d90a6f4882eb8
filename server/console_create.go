package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"hangar/store"
)

// Creating workspaces (instance admins) and projects (workspace admins)
// from the console: the API's operations (newWorkspace, newProject) from
// form fields. A refused input shows the page again with the reason.

type homePage struct {
	Workspaces []workspaceRow
	CanCreate  bool // an instance admin
	Error      string
	Form       createWorkspaceRequest
	QuotaGB    string
}

func (s *Server) createWorkspaceSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	req := createWorkspaceRequest{Slug: strings.TrimSpace(r.PostForm.Get("slug")), Name: strings.TrimSpace(r.PostForm.Get("name"))}
	gib := strings.TrimSpace(r.PostForm.Get("quota"))
	fail := func(msg string) { s.renderHome(w, r, c, http.StatusBadRequest, msg, req, gib) }
	quota, ok := parseGB(gib)
	if !ok {
		fail(errQuotaForm)
		return nil
	}
	req.StorageQuota = quota
	ws, err := s.newWorkspace(c, req)
	if err != nil {
		if msg, ok := formError(err); ok {
			fail(msg)
			return nil
		}
		return err
	}
	http.Redirect(w, r, "/w/"+ws.Slug, http.StatusSeeOther)
	return nil
}

func (s *Server) createProjectSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	req := createProjectRequest{Slug: strings.TrimSpace(r.PostForm.Get("slug")), Name: strings.TrimSpace(r.PostForm.Get("name")),
		Platform: r.PostForm.Get("platform")}
	p, err := s.newProject(c, req)
	if err != nil {
		if msg, ok := formError(err); ok {
			return s.renderWorkspace(w, r, c, http.StatusBadRequest, msg, req)
		}
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/p/"+p.Slug, http.StatusSeeOther)
	return nil
}

const errQuotaForm = "The quota is a number of GB (empty or 0: none)."

// parseGB reads a quota form field in GB ("" is 0: none) as bytes; GB, as
// the pages show sizes (1 GB = 10^9 bytes).
func parseGB(v string) (int64, bool) {
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || n > 1<<20 || math.IsNaN(n) {
		return 0, false
	}
	return int64(n * 1e9), true
}

// quotaSubmit sets an existing workspace's quota (instance admins). A
// quota below the current usage is allowed, as in the API: it stops
// further uploads.
func (s *Server) quotaSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	ws, err := s.workspaceOf(c.params)
	if err != nil {
		return notFoundAs(err, "workspace")
	}
	c.ws = ws
	quota, ok := parseGB(strings.TrimSpace(r.PostForm.Get("quota")))
	if !ok {
		return s.renderWorkspace(w, r, c, http.StatusBadRequest, errQuotaForm, createProjectRequest{})
	}
	if _, err := c.st().UpdateWorkspace(ws.ID, func(ws *store.Workspace) error { ws.StorageQuota = quota; return nil }); err != nil {
		return err
	}
	http.Redirect(w, r, "/w/"+ws.Slug, http.StatusSeeOther)
	return nil
}

// formError is the message a form shows for an input the operation
// refused (a bad or taken slug), or false for any other error.
func formError(err error) (string, bool) {
	if errors.Is(err, store.ErrConflict) {
		return "That slug is taken: choose another.", true
	}
	if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest {
		return ae.Message, true
	}
	return "", false
}
