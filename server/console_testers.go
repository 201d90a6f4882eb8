package server

import (
	"net/http"
	"strings"

	"hangar/store"
)

// A workspace's tester groups in the console (members who may create
// pages): the groups, a group's addresses, added by pasting a list or a
// CSV, removed one by one. The operations are the API's (ops_testers.go).

type testersPage struct {
	Workspace workspaceRow
	Groups    []store.TesterGroup
	Group     *store.TesterGroup // a group's page
	Error     string
	Done      string
	Max       int
}

func (s *Server) testersBase(c *call) string { return "/w/" + c.ws.Slug + "/testers" }

func (s *Server) renderTesters(w http.ResponseWriter, r *http.Request, c *call, status int, p testersPage) error {
	p.Workspace, p.Max = workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, store.MaxGroupMembers
	if p.Group != nil {
		s.renderPage(w, r, status, "testers", "Testers: "+p.Group.Name, c, p)
		return nil
	}
	gs, err := s.store.TesterGroups(c.ws.ID)
	if err != nil {
		return err
	}
	p.Groups = gs
	s.renderPage(w, r, status, "testers", "Tester groups of "+p.Workspace.Name, c, p)
	return nil
}

func (s *Server) testersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderTesters(w, r, c, http.StatusOK, testersPage{})
}

func (s *Server) testerGroupSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	req := testerGroupRequest{Slug: strings.TrimSpace(r.PostForm.Get("slug")), Name: r.PostForm.Get("name")}
	g, err := s.newTesterGroup(c, req)
	if err != nil {
		if msg, ok := formError(err); ok {
			return s.renderTesters(w, r, c, http.StatusBadRequest, testersPage{Error: msg})
		}
		return err
	}
	http.Redirect(w, r, s.testersBase(c)+"/"+g.Slug, http.StatusSeeOther)
	return nil
}

func (s *Server) testerGroupPage(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	p := testersPage{Group: &g}
	if r.URL.Query().Get("signedout") != "" {
		p.Done = "Signed out: that tester's devices must sign in again to open this workspace's pages."
	}
	return s.renderTesters(w, r, c, http.StatusOK, p)
}

// testerSignOutSubmit signs a tester out of the workspace's pages.
func (s *Server) testerSignOutSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	if err := s.signOutTester(c, r.PostForm.Get("address")); err != nil {
		return err
	}
	http.Redirect(w, r, s.testersBase(c)+"/"+g.Slug+"?signedout=1", http.StatusSeeOther)
	return nil
}

// testerAddSubmit adds the pasted addresses: one a line, or a CSV whose
// first column holds them; all or none.
func (s *Server) testerAddSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	addrs, err := readAddressesCSV(strings.NewReader(r.PostForm.Get("addresses")))
	if err == nil {
		g, err = c.st().UpdateTesterGroup(g.ID, "", addrs, nil)
	}
	if err != nil {
		if msg, ok := formError(err); ok {
			return s.renderTesters(w, r, c, http.StatusBadRequest, testersPage{Group: &g, Error: msg})
		}
		return err
	}
	http.Redirect(w, r, s.testersBase(c)+"/"+g.Slug, http.StatusSeeOther)
	return nil
}

func (s *Server) testerRemoveSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	if _, err := c.st().UpdateTesterGroup(g.ID, "", nil, []string{r.PostForm.Get("address")}); err != nil {
		return err
	}
	http.Redirect(w, r, s.testersBase(c)+"/"+g.Slug, http.StatusSeeOther)
	return nil
}

func (s *Server) testerGroupDeleteSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	if err := c.st().DeleteTesterGroup(g.ID); err != nil {
		return notFoundAs(err, "tester group")
	}
	http.Redirect(w, r, s.testersBase(c), http.StatusSeeOther)
	return nil
}
