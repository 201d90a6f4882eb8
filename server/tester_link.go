package server

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"hangar/store"
)

// A public link's tester page (/p/{link}): its file's build, the install
// flow for the device, and, for a link with a password, the form that
// unlocks it. Downloads go through the reference's counted public URL.

// linkSite is a link's tester site.
func linkSite(base string, l store.PublicLink) testerSite {
	page := "/p/" + l.ID
	// A link's protection is its password alone (set when it is made;
	// deactivation ends the link itself).
	return testerSite{id: l.ID, base: base, page: page, hash: l.PasswordHash, protected: l.PasswordHash != "", guard: l.PasswordHash,
		download: func(f store.File) string {
			if f.ID == l.FileID {
				return "/api/v1/public/file/" + l.ID + "/" + f.Name
			}
			return page + "/apk" // the APK attached beside the link's AAB
		},
		manifest: func(store.File) string { return page + "/manifest.plist" },
		install:  func(f store.File) string { return page + "/i/" + f.Name },
	}
}

// linkContext is what a link's page and manifest need: the usable link
// (a link at its download limit comes back with ErrLimitReached), its file
// and build.
func (s *Server) linkContext(id string) (store.PublicLink, store.File, store.Build, error) {
	var (
		f store.File
		b store.Build
	)
	l, err := s.store.UseLink(id, "", store.AccessLogEntry{Time: s.now()}, false)
	if err != nil && !errors.Is(err, store.ErrLimitReached) {
		return l, f, b, err
	}
	limitErr := err
	if f, err = s.store.File(l.FileID); err == nil {
		b, err = s.store.Build(f.BuildID)
	}
	if err != nil {
		return l, f, b, err
	}
	return l, f, b, limitErr
}

// unavailable is the page of a link or distribution that cannot be
// shown, with the API's status: 404 (unknown, inactive, expired) or 403
// (download limit reached).
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) error {
	switch {
	case errors.Is(err, store.ErrLimitReached):
		return s.renderTester(w, r, testerView{Status: http.StatusForbidden, Title: "Download limit reached",
			Message: "This link has been used as many times as it may be. Ask for a new one."})
	case errors.Is(err, store.ErrNotFound):
		return s.renderTester(w, r, testerView{Status: http.StatusNotFound, Title: "Link not available",
			Message: "This link does not exist, has expired, or was turned off."})
	}
	return err
}

// linkPage renders a link's tester page (GET), or takes its password
// form (POST).
func (s *Server) linkTesterPage(w http.ResponseWriter, r *http.Request, c *call) error {
	l, f, b, err := s.linkContext(c.params.ByName("publicLinkId"))
	if err != nil {
		return s.unavailable(w, r, err)
	}
	t := linkSite(c.base, l)
	var wrong string
	if r.Method == http.MethodPost {
		if t.hash == "" {
			http.Redirect(w, r, t.page, http.StatusSeeOther)
			return nil
		}
		var done bool
		if wrong, done, err = s.unlockForm(w, r, t); done || err != nil {
			return err
		}
	}
	if t.hash != "" && !s.unlocked(r, l.ID, t.hash) {
		return s.renderTester(w, r, testerView{Status: statusIf(wrong != "", http.StatusUnauthorized), Locked: true, Action: t.page, Wrong: wrong})
	}
	files, err := s.store.Files(b.ID)
	if err != nil {
		return err
	}
	p := platformOf(r.UserAgent())
	v := testerView{
		Build:    s.testerBuild(t, b, f, files, p, isHTTPS(c.base)),
		QRURL:    t.url(t.page + "/qr"),
		PageURL:  t.url(t.page),
		Platform: p,
		DevInfo:  true,
	}
	if l.DownloadLimit > 0 {
		v.Remaining = fmt.Sprint(l.DownloadLimit - l.AccessCount)
	}
	if !l.IsPermanent && !l.ExpirationDate.IsZero() {
		v.Expires = l.ExpirationDate.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	return s.renderTester(w, r, v)
}

// statusIf is status when cond holds, else 0 (renderTester's 200).
func statusIf(cond bool, status int) int {
	if cond {
		return status
	}
	return 0
}

// linkQR is the QR code of a link's tester page. (The reference's
// /api/v1/public/file/{link}/qr encodes the download URL, as the reference says.)
func (s *Server) linkQR(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.store.UseLink(c.params.ByName("publicLinkId"), "", store.AccessLogEntry{Time: s.now()}, false)
	if err != nil && !errors.Is(err, store.ErrLimitReached) {
		return linkErr(err)
	}
	t := linkSite(c.base, l)
	return s.serveQR(w, r, t.url(t.page))
}

// linkManifest serves the OTA manifest of a link to an IPA. A protected
// link's manifest URL is signed (the unlocked page hands it out, and the
// installer sends no cookie); a public one needs nothing more than the
// link, as its page does, so it works as long as the link does.
func (s *Server) linkManifest(w http.ResponseWriter, r *http.Request, c *call) error {
	l, f, b, err := s.linkContext(c.params.ByName("publicLinkId"))
	if err != nil {
		return linkErr(err)
	}
	t := linkSite(c.base, l)
	if t.protected && !s.verifySigned(r, &t) {
		return errForbidden("the manifest URL is invalid or has expired: open the page again")
	}
	if f.Type != store.FilePackage || f.Extension != "ipa" {
		return errNotFound("manifest")
	}
	return s.writeManifest(w, r, t, b, f)
}

// linkAPK downloads the APK attached beside a link's AAB, counted against
// the link like its own file.
func (s *Server) linkAPK(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.store.Link(c.params.ByName("publicLinkId"))
	if err != nil {
		return errLinkNotFound
	}
	if err := s.linkPass(w, r, l); err != nil {
		return err
	}
	files, err := s.store.Files(l.BuildID)
	if err != nil {
		return err
	}
	apk, ok := attachedAPK(files)
	if !ok {
		return errNotFound("APK")
	}
	e := s.accessEntry(r)
	e.Install = s.installOf(e, "", store.InstallKindDownload)
	e.Install.BuildID, e.Install.FileID = l.BuildID, apk.ID
	if _, err := s.store.UseUnlockedLink(l.ID, "", e, l.PasswordHash); err != nil {
		return linkErr(err)
	}
	redirectToFile(w, s.signedURLFor(c.base, apk.ID, apk.Name, redirectURLTTL))
	return nil
}

// linkPass lets a download through a password-protected link go on, or
// answers it: a browser is sent to the page's form, an API client gets
// 401 with a Basic challenge. Public links pass.
//
// It returns nil to let the request go on; errAnswered when it sent a
// browser to the page; or the refusal.
func (s *Server) linkPass(w http.ResponseWriter, r *http.Request, l store.PublicLink) error {
	if l.PasswordHash == "" {
		return nil
	}
	err := s.passOf(r, linkSite("", l))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errPasswordNeeded) && wantsHTML(r):
		http.Redirect(w, r, "/p/"+l.ID, http.StatusSeeOther)
		return errAnswered
	}
	if ae, ok := toAPIError(err); ok && ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Hangar link", charset="UTF-8"`)
	}
	return err
}

// accessEntry is the access log entry of a counted download.
func (s *Server) accessEntry(r *http.Request) store.AccessLogEntry {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return store.AccessLogEntry{Time: s.now().UTC(), ClientIP: s.clientIP(r).String(), UserAgent: ua}
}

// headFile answers HEAD on a counted download without counting (chat
// apps fetch links to preview them): the file's type, size and name, and
// no Location, so it hands out nothing GET would have counted.
func headFile(w http.ResponseWriter, f store.File) {
	h := w.Header()
	h.Set("Content-Type", cmp.Or(f.MimeType, "application/octet-stream"))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	h.Set("Content-Disposition", contentDisposition(f.Name))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
