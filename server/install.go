package server

import (
	"bytes"
	"embed"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"

	"hangar/depot"
	"hangar/store"
)

// The tester install page: GET /p/{publicLinkId}, a page for phones and
// desktops with the build's details, a Download button (through the public
// link, so its limit and access log apply), the QR code and, for iOS
// packages, an Install button for over-the-air install through a signed
// manifest.plist. Everything is embedded: no external asset, no CDN.

//go:embed templates/install.html templates/manifest.plist
var templates embed.FS

var (
	installPage  = template.Must(template.ParseFS(templates, "templates/install.html"))
	manifestTmpl = texttemplate.Must(texttemplate.New("manifest.plist").Funcs(texttemplate.FuncMap{
		"xml": func(s string) string {
			var b strings.Builder
			xml.EscapeText(&b, []byte(s))
			return b.String()
		},
	}).ParseFS(templates, "templates/manifest.plist"))
)

type installData struct {
	OK                      bool
	Title, Message          string
	App, Initial, IconURL   string
	Version, Build          string
	BundleID, FileName      string
	Requires                string // "iOS 15.0 or later"
	Size, Uploaded, Expires string
	Remaining               string
	Notes                   string
	Profile                 string // "Ad hoc, 3 devices, expires 1 Mar 2027"
	ProfileExpired          bool
	State                   string // why details are missing: processing, or unreadable
	DownloadURL, QRURL      string
	InstallURL              template.URL // itms-services: is not a scheme html/template lets through otherwise
}

// linkContext is what the install page and the manifest need: the link, its
// file, build and project.
func (s *Server) linkContext(id string) (store.PublicLink, store.File, store.Build, store.Project, error) {
	var (
		f store.File
		b store.Build
		p store.Project
	)
	l, err := s.store.UseLink(id, "", store.AccessLogEntry{Time: s.now()}, false)
	if err != nil && !errors.Is(err, store.ErrLimitReached) {
		return l, f, b, p, err
	}
	limitErr := err
	if f, err = s.store.File(l.FileID); err == nil {
		if b, err = s.store.Build(f.BuildID); err == nil {
			p, err = s.store.Project(b.ProjectID)
		}
	}
	if err != nil {
		return l, f, b, p, err
	}
	return l, f, b, p, limitErr
}

// installPageHandler renders the page. Links that cannot be used get a
// friendly page with the API's status: 404 (unknown, inactive, expired) or
// 403 (download limit reached).
func (s *Server) installPageHandler(w http.ResponseWriter, r *http.Request, c *call) {
	l, f, b, p, err := s.linkContext(c.params.ByName("publicLinkId"))
	var (
		status = http.StatusOK
		data   installData
	)
	switch {
	case errors.Is(err, store.ErrLimitReached):
		status, data = http.StatusForbidden, installData{Title: "Download limit reached",
			Message: "This link has been used as many times as it may be. Ask for a new one."}
	case errors.Is(err, store.ErrNotFound):
		status, data = http.StatusNotFound, installData{Title: "Link not available",
			Message: "This link does not exist, has expired, or was turned off."}
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		data = s.installData(c.base, l, f, b, p)
	}
	var buf bytes.Buffer
	if err := installPage.Execute(&buf, data); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// No script at all, no outside resource, no framing.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) installData(base string, l store.PublicLink, f store.File, b store.Build, p store.Project) installData {
	d := installData{
		OK:          true,
		App:         orText(b.AppName, p.Name),
		Version:     orText(b.VersionName, "unversioned"),
		Build:       b.VersionCode,
		BundleID:    b.BundleID,
		FileName:    f.Name,
		Size:        humanSize(f.Size),
		Uploaded:    f.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC"),
		Notes:       b.Notes,
		DownloadURL: publicURL(base, l.ID, f.Name),
		QRURL:       qrURL(base, l.ID),
	}
	if r, _ := utf8.DecodeRuneInString(d.App); r != utf8.RuneError {
		d.Initial = strings.ToUpper(string(r))
	}
	if icon, ok := s.buildIcon(b.ID); ok {
		d.IconURL = s.signedURL(base, icon.ID, icon.Name)
	}
	if l.DownloadLimit > 0 {
		d.Remaining = fmt.Sprint(l.DownloadLimit - l.AccessCount)
	}
	if !l.IsPermanent && !l.ExpirationDate.IsZero() {
		d.Expires = l.ExpirationDate.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	switch {
	case b.MinOS == "":
	case b.OS == "ios":
		d.Requires = "iOS " + b.MinOS + " or later"
	case b.OS == "android":
		d.Requires = "Android API level " + b.MinOS + " or later"
	}
	if pr := b.Profile; pr != nil {
		d.Profile = profileKinds[pr.Type]
		if pr.Type != "enterprise" && pr.Type != "app-store" {
			d.Profile += fmt.Sprintf(", %d device%s", pr.Devices, plural(pr.Devices))
		}
		if !pr.Expires.IsZero() { // a profile without ExpirationDate is broken, not expired
			d.Profile += ", expires " + pr.Expires.UTC().Format("2 Jan 2006")
			d.ProfileExpired = !pr.Expires.After(s.now())
		}
	}
	switch b.Status {
	case store.BuildPending, store.BuildInProgress:
		d.State = "This build is still being processed: its details will appear shortly."
	case store.BuildError:
		d.State = "Hangar could not read this package's details. The download is the file as it was uploaded."
	}
	// OTA install needs what the manifest names: the bundle id, read by
	// processing. Before that (or if it failed) there is only Download.
	if f.Type == store.FilePackage && f.Extension == "ipa" && b.Status == store.BuildProcessed && b.BundleID != "" {
		path := manifestPath(l.ID)
		manifest := base + path + "?" + s.keys.Sign(http.MethodGet, path, s.now().Add(s.cfg.SignedURLTTL))
		d.InstallURL = template.URL("itms-services://?action=download-manifest&url=" + url.QueryEscape(manifest))
	}
	return d
}

var profileKinds = map[string]string{
	"development": "Development",
	"ad-hoc":      "Ad hoc",
	"enterprise":  "Enterprise (any device)",
	"app-store":   "App Store (not installable here)",
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// buildIcon returns the icon processing stored for a build, if any.
func (s *Server) buildIcon(buildID string) (store.File, bool) {
	files, err := s.store.Files(buildID)
	if err != nil {
		return store.File{}, false
	}
	return depot.FileOfType(files, store.FileIcon)
}

// manifest serves the OTA manifest of an iOS build: a plist whose package
// URL is the public link, so the install counts like a download. The URL is
// signed (the install page hands it out), since the manifest names the
// bundle.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request, c *call) {
	if err := s.keys.Verify(r.Method, r.URL.Path, r.URL.RawQuery, s.now()); err != nil {
		s.fail(w, r, errForbidden("the manifest URL is invalid or has expired"))
		return
	}
	l, f, b, p, err := s.linkContext(c.params.ByName("publicLinkId"))
	switch {
	case err != nil:
		s.fail(w, r, linkErr(err))
		return
	case b.Status != store.BuildProcessed || b.BundleID == "":
		s.fail(w, r, errNotProcessed) // no bundle id to name yet
		return
	}
	data := map[string]string{
		"URL":      publicURL(c.base, l.ID, f.Name),
		"BundleID": b.BundleID,
		"Version":  orText(b.VersionName, "0"),
		"Title":    orText(b.AppName, p.Name),
	}
	// The icon iOS shows while installing (display-image).
	if icon, ok := s.buildIcon(b.ID); ok {
		data["Icon"] = s.signedURL(c.base, icon.ID, icon.Name)
	}
	var buf bytes.Buffer
	err = manifestTmpl.Execute(&buf, data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// humanSize renders a byte count as people read it: 52.4 MB.
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
