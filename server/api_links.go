package server

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"hangar/store"
)

// Workspace API handlers for public links (Totis' Files & Public Links API, docs/apis.md: "Public Link
// Endpoints" and "Public Access Endpoints").

var (
	errLinkNotFound = &apiError{http.StatusNotFound, "LINK_NOT_FOUND", orgNotFound, "link doesn't exist or is inactive"}
	errLimitReached = &apiError{http.StatusForbidden, "DOWNLOAD_LIMIT_REACHED", orgForbidden, "maximum downloads exceeded"}
)

type linkView struct {
	PublicLinkID   string   `json:"publicLinkId"`
	FileID         string   `json:"fileId"`
	ExpirationDate *isoTime `json:"expirationDate"` // null: no expiry
	DownloadLimit  int64    `json:"downloadLimit"`  // 0: unlimited
	AccessCount    int64    `json:"accessCount"`
	PublicURL      string   `json:"publicUrl"`
	InstallURL     string   `json:"installUrl"` // the tester page: details, QR, Download, iOS Install
	IsActive       bool     `json:"isActive"`
	IsPermanent    bool     `json:"isPermanent"`
	HasPassword    bool     `json:"hasPassword"`
	CreatedAt      isoTime  `json:"createdAt"`
}

func (s *Server) viewLink(base string, l store.PublicLink, fileName string) linkView {
	v := linkView{PublicLinkID: l.ID, FileID: l.FileID, DownloadLimit: l.DownloadLimit, AccessCount: l.AccessCount,
		PublicURL: publicURL(base, l.ID, fileName), InstallURL: installURL(base, l.ID), IsActive: l.IsActive, IsPermanent: l.IsPermanent, HasPassword: l.PasswordHash != "", CreatedAt: isoTime(l.CreatedAt)}
	if !l.ExpirationDate.IsZero() {
		t := isoTime(l.ExpirationDate)
		v.ExpirationDate = &t
	}
	return v
}

// parseISODate accepts RFC 3339 ("2024-03-15T00:00:00Z") and a bare date
// ("2024-03-15", midnight UTC), the two ISO 8601 forms scripts send.
func parseISODate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// createLink is the reference's "Create Public Link". No downloadLimit (or 0)
// means unlimited; isPermanent ignores expirationDate; neither means the
// link does not expire.
func (s *Server) createLink(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := s.projectFile(c, c.params.ByName("fileId"))
	if err != nil {
		return err
	}
	var req createLinkRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	l, err := s.newLink(r.Context(), c, f, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.viewLink(c.base, l, f.Name))
	return nil
}

// listBuildLinks is the reference's "List Public Links": the links of every file
// of the build, inactive ones included.
func (s *Server) listBuildLinks(w http.ResponseWriter, r *http.Request, c *call) error {
	_, files, err := s.buildWithFiles(c)
	if err != nil {
		return err
	}
	// The reference lists all of a build's links; a bound keeps one answer
	// small (100,000 links on a file were 30 MB).
	p, err := wholeListPage(r)
	if err != nil {
		return err
	}
	ids := make([]string, len(files))
	names := make(map[string]string, len(files))
	for i, f := range files {
		ids[i], names[f.ID] = f.ID, f.Name
	}
	links, next, err := s.store.LinksOfFiles(ids, p.After, p.Limit)
	if err != nil {
		return err
	}
	out := make([]linkView, 0, len(links))
	for _, l := range links {
		out = append(out, s.viewLink(c.base, l, names[l.FileID]))
	}
	linkNext(w, r, next)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// unpagedList is how many items a list that the reference or earlier versions
// answered whole (a build's links, the instance's tokens) holds without
// ?limit=.
const unpagedList = 1000

// wholeListPage reads the paging of such a list: unpagedList items, or
// ?limit=, from ?cursor=; the Link header (linkNext) points to the rest.
// It pages by cursor only.
func wholeListPage(r *http.Request) (store.Page, error) {
	p, err := pageParams(r)
	if err == nil && p.Offset > 0 {
		err = errBadRequest("this list pages by cursor: follow the Link header")
	}
	if !r.URL.Query().Has("limit") {
		p.Limit = unpagedList
	}
	return p, err
}

// fileLink returns the link named by the path if it belongs to the path's
// file and to the request's project. It works for links whose file was
// deleted: they keep their build.
func (s *Server) fileLink(c *call) (store.PublicLink, error) {
	l, err := s.store.Link(c.params.ByName("publicLinkId"))
	if err != nil || l.FileID != c.params.ByName("fileId") {
		return l, errLinkNotFound
	}
	if _, err := s.projectBuild(c, l.BuildID); err != nil {
		return l, errLinkNotFound
	}
	return l, nil
}

// deactivateLink is the reference's "Delete Public Link": the link stops working
// but stays listed, with its access log.
func (s *Server) deactivateLink(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.fileLink(c)
	if err == nil {
		err = c.st().DeactivateLink(l.ID)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type accessLogView struct {
	Timestamp time.Time `json:"timestamp"`
	ClientIP  string    `json:"clientIp"`
	UserAgent string    `json:"userAgent,omitempty"`
}

// accessLog lists a link's downloads, newest first, paged as pageParams
// says.
func (s *Server) accessLog(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.fileLink(c)
	if err != nil {
		return err
	}
	return s.writeAccessLog(w, r, l.ID)
}

// writeAccessLog answers a page of the access log of a link or
// distribution id, newest first, paged as pageParams says.
func (s *Server) writeAccessLog(w http.ResponseWriter, r *http.Request, id string) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	entries, next, err := s.store.AccessLog(id, page)
	if err != nil {
		return err
	}
	linkNext(w, r, next)
	writeJSON(w, http.StatusOK, viewAll(entries, func(e store.AccessLogEntry) accessLogView {
		return accessLogView{Timestamp: e.Time.UTC(), ClientIP: e.ClientIP, UserAgent: e.UserAgent}
	}))
	return nil
}

// maxUserAgent bounds what one access log entry stores of a client's
// User-Agent.
const maxUserAgent = 512

// publicDownload is the reference's "Download via Public Link": count the access
// and log it in one transaction, then 302 to a signed URL valid for a
// minute. HEAD is not counted (see headFile). A link with a password asks
// for it first (see linkPass).
func (s *Server) publicDownload(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.linkTake(w, r, c, store.InstallKindDownload)
}

// linkInstall is publicDownload for the package URL of a link's OTA
// manifest (/p/{id}/i/{name}): iOS's installer taking it is an install.
func (s *Server) linkInstall(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.linkTake(w, r, c, store.InstallKindInstall)
}

func (s *Server) linkTake(w http.ResponseWriter, r *http.Request, c *call, kind string) error {
	id, name, get := c.params.ByName("publicLinkId"), c.params.ByName("fileName"), r.Method == http.MethodGet
	if !get {
		// HEAD counts nothing, but a protected link's file is not named to
		// whoever asks.
		if l, err := s.store.Link(id); err == nil {
			if err := s.linkPass(w, r, l); err != nil {
				return err
			}
		}
	}
	// One transaction for the common case; a link with a password comes
	// back unused, its password is checked outside, and it is used then.
	e := s.accessEntry(r)
	e.Install = s.installOf(e, "", kind) // the link's build and file: the store's
	l, err := s.store.UseLink(id, name, e, get)
	if errors.Is(err, store.ErrProtected) {
		if err := s.linkPass(w, r, l); err != nil {
			return err
		}
		l, err = s.store.UseUnlockedLink(id, name, e, l.PasswordHash)
	}
	if err != nil {
		return linkErr(err)
	}
	if r.Method == http.MethodHead {
		f, err := s.store.File(l.FileID)
		if err != nil {
			return linkErr(err) // the file deleted since
		}
		headFile(w, f)
		return nil
	}
	redirectToFile(w, s.signedURLFor(c.base, l.FileID, l.FileName, redirectURLTTL))
	return nil
}

// publicQR is the reference's "Get QR Code": a 200×200 PNG of the link's
// publicUrl. Links that cannot be used (unknown, inactive, expired, file
// gone) are 404 LINK_NOT_FOUND as for a download; a link at its download
// limit still has its code.
func (s *Server) publicQR(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.store.UseLink(c.params.ByName("publicLinkId"), "", store.AccessLogEntry{Time: s.now()}, false)
	if err != nil && !errors.Is(err, store.ErrLimitReached) {
		return linkErr(err)
	}
	var buf bytes.Buffer
	if err := qrPNG(&buf, publicURL(c.base, l.ID, l.FileName), qrSize); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
	return nil
}
