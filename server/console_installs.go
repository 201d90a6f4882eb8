package server

import (
	"net/http"
	"net/url"

	"hangar/auth"
	"hangar/store"
)

// Who installed what, in the console: the newest records on a build's and
// a distribution's page (for who may choose testers), a tester's page,
// and each as CSV (the API's, with the session).

// consoleInstalls is what the installs partial shows.
type consoleInstalls struct {
	Installs     []store.Install
	InstallsBase string // the per-tester page, ?tester=
	InstallsCSV  string
}

const consoleInstallRows = 50

func (s *Server) installsFor(c *call, q store.InstallQuery, csv string) (consoleInstalls, error) {
	perms, _ := c.who.permissions(c.ws.ID, c.proj.ID)
	if !perms.Has(auth.BuildCreateLinks) {
		return consoleInstalls{}, nil
	}
	rows, _, err := s.store.Installs(q, 0, consoleInstallRows)
	return consoleInstalls{Installs: rows, InstallsBase: "/w/" + c.ws.Slug + "/installs", InstallsCSV: csv}, err
}

type testerInstallsPage struct {
	Workspace workspaceRow
	Tester    string
	consoleInstalls
}

// testerInstallsPage lists a tester's records in the workspace.
func (s *Server) testerInstallsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	who := r.URL.Query().Get("tester")
	in, err := s.installsFor(c, store.InstallQuery{WorkspaceID: c.ws.ID, Tester: who}, "/w/"+c.ws.Slug+"/installs.csv?tester="+url.QueryEscape(who))
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "installs", "Installs by "+who, c, testerInstallsPage{
		Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Tester: who, consoleInstalls: in})
	return nil
}

func (s *Server) testerInstallsCSV(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.installsCSV(w, r, func() error { return s.testerInstalls(w, r, c) })
}

func (s *Server) buildInstallsCSV(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.installsCSV(w, r, func() error { return s.buildInstalls(w, r, c) })
}

func (s *Server) distributionInstallsCSV(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.installsCSV(w, r, func() error { return s.distributionInstalls(w, r, c) })
}

// installsCSV answers the API's CSV of the same records.
func (s *Server) installsCSV(w http.ResponseWriter, r *http.Request, api func() error) error {
	q := r.URL.Query()
	q.Set("format", "csv")
	r.URL.RawQuery = q.Encode()
	return api()
}
