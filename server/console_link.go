package server

import (
	"net/http"
	"strconv"
	"strings"

	"hangar/store"
)

// A build's public links in the console: make one, deactivate one, read its
// page and access log.

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
		err = c.st().DeactivateLink(l.ID)
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

type linkPage struct {
	Workspace workspaceRow
	Project   store.Project
	Build     store.Build
	Link      linkRow
	Entries   []store.AccessLogEntry
	Next      string
	Back      string
}
