package server

import (
	"net/http"
	"net/url"
	"strings"

	"hangar/auth"
	"hangar/depot"
	"hangar/store"
)

// A project's console page: its builds, newest first, filtered and paged as
// the API pages them.

// buildRow is a build as the project page lists it.
type buildRow struct {
	store.Build
	Size    int64
	IconURL string
}

// projectPage lists a project's builds, newest first, a page at a time:
// ?after= carries the API's cursor.
func (s *Server) projectPage(w http.ResponseWriter, r *http.Request, c *call) error {
	query := r.URL.Query()
	q := store.BuildQuery{Text: strings.TrimSpace(query.Get("q")), Status: query.Get("status")}
	var (
		builds  []store.BuildFiles
		next    string
		scanned int
		err     error
	)
	if q.IsZero() {
		builds, next, err = s.store.BuildsWithFiles(c.proj.ID, store.Page{Limit: consolePageSize, After: query.Get("after")})
	} else {
		builds, next, scanned, err = s.store.SearchBuilds(c.proj.ID, q, query.Get("after"), consolePageSize)
	}
	if err != nil {
		return err
	}
	perms, _ := c.who.permissions(c.ws.ID, c.proj.ID)
	p := projectPage{Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Project: c.proj, CanUpload: perms.Has(auth.BuildCreate),
		CanSettings: perms.Has(auth.WorkspaceAdmin)}
	for _, b := range builds {
		row := buildRow{Build: b.Build}
		for _, f := range b.Files {
			row.Size += f.Size
		}
		if icon, ok := depot.FileOfType(b.Files, store.FileIcon); ok {
			row.IconURL = s.signedURLFor("", icon.ID, icon.Name, consoleURLTTL)
		}
		p.Builds = append(p.Builds, row)
	}
	p.Query, p.Statuses = q, []string{store.BuildPending, store.BuildInProgress, store.BuildProcessed, store.BuildError}
	if next != "" {
		v := url.Values{"after": {next}}
		if q.Text != "" {
			v.Set("q", q.Text)
		}
		if q.Status != "" {
			v.Set("status", q.Status)
		}
		p.Next = r.URL.Path + "?" + v.Encode()
		p.Searched = len(builds) < consolePageSize && scanned > 0 // the search stopped at its bound
		p.Scanned = scanned
	}
	if query.Get("after") != "" || !q.IsZero() {
		p.FirstPage = r.URL.Path
	}
	s.renderPage(w, r, http.StatusOK, "project", orText(c.proj.Name, c.proj.Slug), c, p)
	return nil
}

type projectPage struct {
	Workspace       workspaceRow
	Project         store.Project
	Builds          []buildRow
	Next, FirstPage string
	CanUpload       bool
	CanSettings     bool
	Query           store.BuildQuery
	Statuses        []string
	// Searched says a search read its bound of builds (Scanned) before
	// filling the page: Next goes on with older ones.
	Searched bool
	Scanned  int
}

func (p projectPage) refresh() int {
	for _, b := range p.Builds {
		if b.Status == store.BuildInProgress {
			return 5
		}
	}
	return 0
}

// consolePageSize is how many builds a project page shows.
const consolePageSize = 25
