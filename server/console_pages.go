package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hangar/auth"
	"hangar/depot"
	"hangar/store"
)

// The console's pages. Each reads through the same store queries the API
// uses and pages its lists like the API (a cursor per page), so a page
// reads no more than its rows.

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request, c *call) error {
	s.renderPage(w, r, http.StatusOK, "signin", "Sign in", c, signinForm{Next: safeNext(r.URL.Query().Get("next"))})
	return nil
}

type signinForm struct {
	Username, Next, Error string
}

// signinSubmit checks the form like the API's login (same limits, same
// timing for unknown users) and starts a session in a cookie.
func (s *Server) signinSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	form := signinForm{Username: r.PostForm.Get("username"), Next: safeNext(r.PostForm.Get("next"))}
	u, err := s.signIn(w, r, form.Username, r.PostForm.Get("password"))
	if err != nil {
		status := http.StatusUnauthorized
		form.Error = errSignInFailed.Error()
		if ae, _ := toAPIError(err); ae.Status == http.StatusTooManyRequests {
			status, form.Error = ae.Status, "Too many attempts: wait a minute and try again."
		} else if !errors.Is(err, errBadCredentials) {
			return err
		}
		s.renderPage(w, r, status, "signin", "Sign in", c, form)
		return nil
	}
	if err := s.startSession(w, r, u.ID); err != nil {
		return err
	}
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
	return nil
}

func (s *Server) signoutSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.RevokeToken(c.who.id, c.who.token.Prefix); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
	return nil
}

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

type workspacePage struct {
	Workspace workspaceRow
	Projects  []store.Project
	CanCreate bool // a workspace admin
	CanQuota  bool // an instance admin
	QuotaGB   string
	Error     string
	Form      createProjectRequest
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
	s.renderPage(w, r, status, "workspace", orText(c.ws.Name, c.ws.Slug), c, workspacePage{
		Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug), Used: c.ws.StorageUsed, Quota: c.ws.StorageQuota},
		Projects:  projects, CanCreate: perms.Has(auth.WorkspaceAdmin), Error: msg, Form: form,
		CanQuota: c.who.admin, QuotaGB: strconv.FormatFloat(float64(c.ws.StorageQuota)/1e9, 'f', -1, 64),
	})
	return nil
}

// buildRow is a build as the project page lists it.
type buildRow struct {
	store.Build
	Size    int64
	IconURL string
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

// consolePageSize is how many builds a project page shows.
const consolePageSize = 25

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

// consoleURLTTL is how long the signed URLs on a page (icons, downloads)
// stay valid: a page left open for a while still downloads.
const consoleURLTTL = time.Hour

type fileRow struct {
	store.File
	URL string
}

type linkRow struct {
	store.PublicLink
	URL, QR string
}

// consoleLinks is how many links a build page shows at a time.
const consoleLinks = 50

type buildPage struct {
	Workspace workspaceRow
	Project   store.Project
	Build     store.Build
	Files     []fileRow
	Links     []linkRow
	MoreLinks string // the next page of links, if there are more
	IconURL   string
	Expired   bool // the provisioning profile has expired
	Can       can
	Error     string // a form's input refused, shown above the forms
	Base      string // this build page's path
	Today     string // the earliest expiry date a link form takes
}

// can is what the signed-in user may do here: pages offer only that (the
// routes check it again).
type can struct {
	Links, Delete, Attach bool
}

// processing reports whether a build is still waiting for or under
// processing: its page reloads itself until it is done.
func processing(b store.Build) bool {
	return b.Status == store.BuildPending || b.Status == store.BuildInProgress
}

func (p buildPage) refresh() int {
	if processing(p.Build) && len(p.Files) > 0 {
		return 3
	}
	return 0
}

func (p projectPage) refresh() int {
	for _, b := range p.Builds {
		if b.Status == store.BuildInProgress {
			return 5
		}
	}
	return 0
}

func (s *Server) permitted(c *call) can {
	perms, _ := c.who.permissions(c.ws.ID, c.proj.ID)
	return can{Links: perms.Has(auth.BuildCreateLinks), Delete: perms.Has(auth.BuildDelete), Attach: perms.Has(auth.BuildCreate)}
}

func buildPath(c *call, buildID string) string {
	return "/w/" + c.ws.Slug + "/p/" + c.proj.Slug + "/b/" + buildID
}

func (s *Server) loadBuildPage(c *call, linksAfter string) (buildPage, error) {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return buildPage{}, err
	}
	files, err := s.store.Files(b.ID)
	if err != nil {
		return buildPage{}, err
	}
	p := buildPage{Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Project: c.proj, Build: b,
		Can: s.permitted(c), Base: buildPath(c, b.ID), Today: s.now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)}
	if b.Profile != nil {
		p.Expired = !b.Profile.Expires.IsZero() && s.now().After(b.Profile.Expires)
	}
	var ids []string
	for _, f := range files {
		u := s.signedURLFor("", f.ID, f.Name, consoleURLTTL)
		if f.Type == store.FileIcon {
			p.IconURL = u
		}
		p.Files = append(p.Files, fileRow{File: f, URL: u})
		ids = append(ids, f.ID)
	}
	// A page of links at a time: a file may have thousands.
	links, next, err := s.store.LinksOfFiles(ids, linksAfter, consoleLinks)
	if err != nil {
		return p, err
	}
	for _, l := range links {
		p.Links = append(p.Links, linkRow{PublicLink: l, URL: installURL(c.base, l.ID), QR: "/p/" + l.ID + "/qr"})
	}
	if next != "" {
		p.MoreLinks = p.Base + "?links=" + url.QueryEscape(next)
	}
	return p, nil
}

func (s *Server) buildPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderBuildPage(w, r, c, http.StatusOK, "")
}

func (s *Server) renderBuildPage(w http.ResponseWriter, r *http.Request, c *call, status int, msg string) error {
	p, err := s.loadBuildPage(c, r.URL.Query().Get("links"))
	if err != nil {
		return err
	}
	p.Error = msg
	title := orText(p.Build.AppName, c.proj.Name)
	if p.Build.VersionName != "" {
		title += " " + p.Build.VersionName
	}
	s.renderPage(w, r, status, "build", title, c, p)
	return nil
}

// createLinkSubmit is the build page's link form: the API's link creation
// (newLink), from form fields. A refused input shows the page again with
// the reason; nothing is stored.
func (s *Server) createLinkSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	f, err := s.projectFile(c, r.PostForm.Get("file"))
	if err != nil || f.BuildID != b.ID {
		return s.renderBuildPage(w, r, c, http.StatusBadRequest, "Choose one of this build's files.")
	}
	req := createLinkRequest{IsPermanent: r.PostForm.Get("permanent") != ""}
	if v := strings.TrimSpace(r.PostForm.Get("limit")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s.renderBuildPage(w, r, c, http.StatusBadRequest, "The download limit must be a whole number (0 or empty: unlimited).")
		}
		req.DownloadLimit = &n
	}
	if v := strings.TrimSpace(r.PostForm.Get("expires")); v != "" && !req.IsPermanent {
		req.ExpirationDate = &v
	}
	if pw := r.PostForm.Get("password"); pw != "" {
		req.Password = &pw
	}
	if _, err := s.newLink(r.Context(), c, f, req); err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest {
			return s.renderBuildPage(w, r, c, http.StatusBadRequest, ae.Message)
		}
		return err
	}
	http.Redirect(w, r, buildPath(c, b.ID)+"#links", http.StatusSeeOther)
	return nil
}

// deactivateLinkSubmit deactivates one of the build's links.
func (s *Server) deactivateLinkSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.buildLink(c)
	if err == nil {
		err = s.store.DeactivateLink(l.ID)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, buildPath(c, l.BuildID)+"#links", http.StatusSeeOther)
	return nil
}

// buildLink is the link the path names, if it belongs to the path's build.
func (s *Server) buildLink(c *call) (store.PublicLink, error) {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return store.PublicLink{}, err
	}
	l, err := s.store.Link(c.params.ByName("linkId"))
	if err != nil || l.BuildID != b.ID {
		return l, errLinkNotFound
	}
	return l, nil
}

type linkPage struct {
	Workspace workspaceRow
	Project   store.Project
	Build     store.Build
	Link      linkRow
	Entries   []store.AccessLogEntry
	Next      string
	Back      string
}

// linkPage shows a link and its access log, newest first, paged by cursor.
func (s *Server) linkPage(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.buildLink(c)
	if err != nil {
		return err
	}
	b, err := s.store.Build(l.BuildID)
	if err != nil {
		return err
	}
	entries, next, err := s.store.AccessLog(l.ID, store.Page{Limit: 50, After: r.URL.Query().Get("after")})
	if err != nil {
		return err
	}
	p := linkPage{Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Project: c.proj, Build: b,
		Link: linkRow{PublicLink: l, URL: installURL(c.base, l.ID), QR: "/p/" + l.ID + "/qr"}, Entries: entries, Back: buildPath(c, b.ID)}
	if next != "" {
		p.Next = r.URL.Path + "?after=" + next
	}
	s.renderPage(w, r, http.StatusOK, "link", "Link to "+l.FileName, c, p)
	return nil
}

// deleteBuildPage asks for confirmation; deleteBuildSubmit deletes the
// build and its files (the depot's operation, as the API's).
func (s *Server) deleteBuildPage(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.loadBuildPage(c, "")
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "delete", "Delete this build?", c, p)
	return nil
}

func (s *Server) deleteBuildSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err == nil {
		err = notFoundAs(s.depot.DeleteBuild(b.ID), "build")
	}
	if err != nil {
		return err
	}
	s.log.Info("build deleted", "build", b.ID, "project", c.proj.Slug, "by", c.who.name)
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/p/"+c.proj.Slug, http.StatusSeeOther)
	return nil
}

// attachSubmit adds attachments to a build from the build page (the API's
// attach), its CSRF token checked as the first field streams in, as an
// upload's.
func (s *Server) attachSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	verified := false
	_, err = s.attach(r, b.ID, func(name, value string) error {
		if name != "csrf" {
			return nil
		}
		if err := s.checkFormToken(c, value); err != nil {
			return err
		}
		verified = true
		return nil
	}, func() error {
		if !verified {
			return errFormToken
		}
		return nil
	})
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest {
			return s.renderBuildPage(w, r, c, http.StatusBadRequest, "Attach: "+ae.Message)
		}
		return err
	}
	http.Redirect(w, r, buildPath(c, b.ID), http.StatusSeeOther)
	return nil
}

// deleteFileSubmit deletes one file of the build (the depot's operation, as
// the API's); its links stop working.
func (s *Server) deleteFileSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	f, err := s.projectFile(c, c.params.ByName("fileId"))
	if err == nil && f.BuildID != b.ID {
		err = errNotFound("file")
	}
	if err == nil {
		_, err = s.depot.DeleteFile(f.ID)
		err = notFoundAs(err, "file")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, buildPath(c, b.ID), http.StatusSeeOther)
	return nil
}
