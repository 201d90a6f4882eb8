package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"hangar/auth"
	"hangar/store"
)

// A build's console page: what processing read, files, links, and the
// forms that attach, link and delete. Console pages read through the same
// store queries the API uses and page their lists like the API (a cursor
// per page), so a page reads no more than its rows.

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
	consoleInstalls
	Feedback []feedbackView
	// PackageVersion is the package's own version, when the upload's
	// fields (the title's) say another.
	PackageVersion string
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
	if labelled(p.Build) {
		p.PackageVersion = strings.TrimPrefix(versionLine(p.Build.PackageVersion, p.Build.PackageBuild), "Version ")
	}
	if p.consoleInstalls, err = s.installsFor(c, store.InstallQuery{BuildID: p.Build.ID}, p.Base+"/installs.csv"); err != nil || !p.Can.Links {
		return p, err
	}
	fs, err := s.store.FeedbackOf(p.Build.ID)
	p.Feedback = s.feedbackViews(c.base, fs)
	return p, err
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
	if err := s.deleteBuild(c, c.params.ByName("buildId")); err != nil {
		return err
	}
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
		_, err = s.depot.DeleteFile(c.st().Actor(), f.ID)
		err = notFoundAs(err, "file")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, buildPath(c, b.ID), http.StatusSeeOther)
	return nil
}

// editBuildSubmit takes the build page's tags and notes form.
func (s *Server) editBuildSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	tags, notes := strings.Split(r.PostForm.Get("tags"), ","), strings.ReplaceAll(r.PostForm.Get("notes"), "\r\n", "\n")
	if _, _, err := s.changeBuild(c, c.params.ByName("buildId"), &tags, &notes); err != nil {
		if ae, ok := toAPIError(err); ok && ae.Status == http.StatusBadRequest {
			return s.renderBuildPage(w, r, c, http.StatusBadRequest, ae.Message)
		}
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/p/"+c.proj.Slug+"/b/"+c.params.ByName("buildId"), http.StatusSeeOther)
	return nil
}
