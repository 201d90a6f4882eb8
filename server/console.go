package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hangar/store"
)

// The web console is pages over the same route table, authorization, store
// and depot operations as the API: a page route differs from an API route
// only in how it authenticates (a session cookie, never a bearer token),
// how it fails (an HTML page, or the sign-in page for a missing session),
// and that every form posted to it must come from this origin and, once
// signed in, carry the session's CSRF token.

//go:embed templates/console
var consoleFS embed.FS

//go:embed static
var staticFS embed.FS

// consolePages are the page templates, each parsed with the layout.
var consolePages = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"bytes":     humanSize,
		"date":      consoleDate,
		"percent90": func(quota int64) int64 { return quota / 10 * 9 },
		"scope":     scopeLabel,
	}
	// Partials are templates more than one page uses.
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(consoleFS, "templates/console/layout.html", "templates/console/partials/*.html"))
	pages := map[string]*template.Template{}
	entries, err := fs.Glob(consoleFS, "templates/console/*.html")
	if err != nil {
		panic(err)
	}
	for _, path := range entries {
		name := strings.TrimSuffix(path[strings.LastIndexByte(path, '/')+1:], ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(consoleFS, path))
	}
	return pages
}()

// consoleDate writes a time (or a *time.Time: an optional one in an
// API view) as pages show times.
func consoleDate(t any) string {
	switch t := t.(type) {
	case time.Time:
		return t.UTC().Format("2 Jan 2006 15:04")
	case *time.Time:
		if t != nil {
			return t.UTC().Format("2 Jan 2006 15:04")
		}
	}
	return ""
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	User  string // the signed-in user, "" when signed out
	CSRF  string // the session's token, for forms
	Body  any
	// Refresh reloads the page after so many seconds (a build still
	// processing), without script.
	Refresh int
	// Warnings are for instance admins: what Hangar hands out will not
	// work on phones (console_warnings.go).
	Warnings []string
}

// refresher is a page body that wants to be reloaded while something it
// shows is still changing.
type refresher interface{ refresh() int }

// consoleCSP allows the console's own stylesheet and script only: no
// inline script or style, no frames, forms posting only here.
const consoleCSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// renderPage answers with a page. It renders into a buffer first, so that
// a template error is a clean 500 rather than half a page.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name, title string, c *call, body any) {
	p := pageData{Title: title, Body: body}
	if rf, ok := body.(refresher); ok {
		p.Refresh = rf.refresh()
	}
	if c != nil && c.who != nil {
		p.User, p.CSRF = c.who.name, s.csrfToken(c.who.token)
		if c.who.admin {
			p.Warnings = s.reachWarnings(c)
		}
	}
	var buf bytes.Buffer
	if err := consolePages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString("internal error\n")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// failPage is fail for page routes: a missing or expired session goes to
// the sign-in page (back here afterwards, for a GET); anything else is an
// error page with the API's status and message.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, c *call, err error) {
	ae, known := toAPIError(err)
	if !known {
		s.log.Error("request failed", "method", r.Method, "route", routeOf(w), "err", err)
	}
	if ae.Status == http.StatusUnauthorized {
		next := "/"
		if r.Method == http.MethodGet {
			next = r.URL.RequestURI()
		}
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	s.renderPage(w, r, ae.Status, "error", http.StatusText(ae.Status), c, ae.Message)
}

// sessionCookie is the cookie's name: with the __Host- prefix over TLS,
// which makes browsers refuse it unless Secure, host-only and Path=/.
func sessionCookie(r *http.Request) string {
	if r.TLS != nil {
		return "__Host-hangar_session"
	}
	return "hangar_session"
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, plain string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie(r), Value: plain, Path: "/", Expires: expires,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// startSession gives the browser a new console session of user u: a
// login session token, like the API's, in the cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, c *call, u store.User, method string) error {
	expires := s.now().Add(s.cfg.SessionTTL)
	plain, _, err := c.as(u).CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, Name: "console", Method: method, ExpiresAt: expires})
	if err != nil {
		return err
	}
	setSessionCookie(w, r, plain, expires)
	return nil
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// sessionToken is the session the request's cookie carries, "" if none.
func sessionToken(r *http.Request) string {
	c, err := r.Cookie(sessionCookie(r))
	if err != nil {
		return ""
	}
	return c.Value
}

// csrfToken is a session's form token: an HMAC of the session token's
// hash under a key derived from the URL-signing key, so it needs no
// storage, differs per session and dies with it.
func (s *Server) csrfToken(t store.Token) string {
	mac := hmac.New(sha256.New, s.csrfKey)
	mac.Write(t.Hash)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

var errCrossSite = errForbidden("this form must be sent from this site's own pages")

// checkForm guards a page route's POST: it must come from this origin (the
// browser says so in Sec-Fetch-Site, or at least in Origin; a request with
// neither is not a browser's form), and, once signed in, carry the
// session's CSRF token.
func (s *Server) checkForm(r *http.Request, c *call, tokenInStream bool) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); {
	case site != "":
		if site != "same-origin" && site != "none" {
			return errCrossSite
		}
	case r.Header.Get("Origin") != "":
		u, err := url.Parse(r.Header.Get("Origin"))
		if err != nil || u.Host != r.Host {
			return errCrossSite
		}
	default:
		return errCrossSite
	}
	if c.who == nil || tokenInStream {
		// The sign-in form has no session yet; an upload form's token is
		// checked as its fields stream in (see checkFormToken).
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	got := r.PostForm.Get("csrf")
	if got == "" {
		// The console's scripts send it in a header (a passkey's JSON).
		got = r.Header.Get("X-CSRF-Token")
	}
	return s.checkFormToken(c, got)
}

var errFormToken = errForbidden("the form has expired or did not come from this site: reload the page and try again")

// checkFormToken compares a form's csrf field with the session's, in
// constant time.
func (s *Server) checkFormToken(c *call, got string) error {
	if !hmac.Equal([]byte(got), []byte(s.csrfToken(c.who.token))) {
		return errFormToken
	}
	return nil
}

// serveStatic serves the console's stylesheet and script.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request, c *call) error {
	name := c.params.ByName("name")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		return errNotFound("file")
	}
	ctype := "text/plain; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".css"):
		ctype = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		ctype = "text/javascript; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	return nil
}

// safeNext keeps a sign-in's return address on this site: a path, never
// another host (//evil.example) or a scheme.
//
// Browsers forgive much in a Location (they drop tabs and newlines, read
// "\\" as "/"), so "/\t/host" would leave the site: next must parse as a
// path of this site (no scheme, no host, no user info), hold no control
// character or backslash, and is sent on re-encoded.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	out := (&url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}).String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return "/"
	}
	return out
}

var errSignInFailed = errors.New("wrong username or password")
