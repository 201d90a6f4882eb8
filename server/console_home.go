package server

import (
	"net/http"
	"strconv"

	"hangar/auth"
	"hangar/store"
)

// The console's home (the workspaces one belongs to) and a workspace's page
// (its projects).

type workspaceRow struct {
	Slug, Name  string
	Used, Quota int64
}

// homePage lists the workspaces the user can see, with storage against
// quota; an instance admin also gets the form for a new one.
func (s *Server) homePage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderHome(w, r, c, http.StatusOK, "", createWorkspaceRequest{}, "")
}

func (s *Server) renderHome(w http.ResponseWriter, r *http.Request, c *call, status int, msg string, form createWorkspaceRequest, gib string) error {
	all, err := s.store.Workspaces()
	if err != nil {
		return err
	}
	p := homePage{CanCreate: c.who.admin, Error: msg, Form: form, QuotaGB: gib}
	for _, ws := range all {
		if _, visible := c.who.permissions(ws.ID, ""); visible {
			p.Workspaces = append(p.Workspaces, workspaceRow{Slug: ws.Slug, Name: orText(ws.Name, ws.Slug), Used: ws.StorageUsed, Quota: ws.StorageQuota})
		}
	}
	s.renderPage(w, r, status, "home", "Workspaces", c, p)
	return nil
}

func (s *Server) workspacePage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderWorkspace(w, r, c, http.StatusOK, "", createProjectRequest{})
}

func (s *Server) renderWorkspace(w http.ResponseWriter, r *http.Request, c *call, status int, msg string, form createProjectRequest) error {
	projects, err := s.store.Projects(c.ws.ID)
	if err != nil {
		return err
	}
	perms, _ := c.who.permissions(c.ws.ID, "")
	over, _, err := s.store.NotifyOverflow(c.ws.ID)
	if err != nil {
		return err
	}
	s.renderPage(w, r, status, "workspace", orText(c.ws.Name, c.ws.Slug), c, workspacePage{
		HeldBack: over, NotifyCap: s.cfg.Testers.NotifyPerHour, Feedback: s.feedbackChoiceOf(c),
		Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug), Used: c.ws.StorageUsed, Quota: c.ws.StorageQuota},
		Projects:  projects, CanCreate: perms.Has(auth.WorkspaceAdmin), Error: msg, Form: form,
		CanQuota: c.who.admin, QuotaGB: strconv.FormatFloat(float64(c.ws.StorageQuota)/1e9, 'f', -1, 64),
	})
	return nil
}

type workspacePage struct {
	Workspace workspaceRow
	Projects  []store.Project
	CanCreate bool // a workspace admin
	CanQuota  bool // an instance admin
	QuotaGB   string
	Error     string
	Form      createProjectRequest
	// HeldBack notification mails this hour, beyond the workspace's
	// hourly cap (NotifyCap).
	HeldBack, NotifyCap int
	Feedback            feedbackChoice
}
