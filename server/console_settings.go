package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"hangar/store"
)

// A project's settings page (workspace admins): build retention, and the
// app tokens CI uploads with (created with their secret shown once,
// revoked, with their last use). The operations are the API's: the store's
// project update and tokens.

type settingsPage struct {
	Workspace workspaceRow
	Project   store.Project
	Tokens    []store.Token
	NewToken  string // a token just created: shown this once
	Error     string
	Done      string
	Base      string
	Default   string // the instance's retention, for the form's hint
	KeepDays  string // the project's max age, in days
	// AppCenter is the App Center CLI's command line for this project.
	AppCenter appCenterCommands
}

// appCenterCommands is what a team moving from App Center types.
type appCenterCommands struct {
	Base, App string
	LocalCA   bool // give node Hangar's CA
}

func (s *Server) settingsPath(c *call) string {
	return "/w/" + c.ws.Slug + "/p/" + c.proj.Slug + "/settings"
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	done := ""
	if r.URL.Query().Get("saved") != "" {
		done = "Saved."
	}
	var p settingsPage
	p.NewToken, _, _ = s.takeShown(r, c)
	p.Done = done
	return s.renderSettings(w, r, c, http.StatusOK, p)
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, c *call, status int, p settingsPage) error {
	proj, err := s.store.Project(c.proj.ID) // as it is now, after a change
	if err != nil {
		return err
	}
	tokens, err := s.store.Tokens(proj.ID)
	if err != nil {
		return err
	}
	p.Workspace = workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}
	p.Project, p.Tokens, p.Base = proj, tokens, s.settingsPath(c)
	p.AppCenter = appCenterCommands{Base: c.base, App: c.ws.Slug + "/" + proj.Slug, LocalCA: s.localCA() != nil}
	p.Default = "keep every build"
	if s.cfg.KeepBuilds > 0 || s.cfg.MaxBuildAge > 0 {
		p.Default = "keep the newest " + strconv.Itoa(s.cfg.KeepBuilds) + " builds, up to " + s.cfg.MaxBuildAge.String() + " old (0: no limit)"
	}
	if proj.Retention != nil && proj.Retention.MaxAgeSeconds > 0 {
		p.KeepDays = strconv.FormatInt(proj.Retention.MaxAgeSeconds/86400, 10)
	}
	s.renderPage(w, r, status, "settings", orText(proj.Name, proj.Slug)+" settings", c, p)
	return nil
}

// retentionSubmit sets the project's retention (keep the newest N builds,
// and none older than D days; 0: no limit), or returns it to the instance
// default.
func (s *Server) retentionSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	var ret *store.Retention
	if r.PostForm.Get("default") == "" {
		keep, err1 := strconv.Atoi(orText(strings.TrimSpace(r.PostForm.Get("keep")), "0"))
		days, err2 := strconv.Atoi(orText(strings.TrimSpace(r.PostForm.Get("days")), "0"))
		if err1 != nil || err2 != nil || keep < 0 || days < 0 || days > 100_000 {
			return s.renderSettings(w, r, c, http.StatusBadRequest, settingsPage{Error: "Keep and days are whole numbers, 0 or more (0: no limit)."})
		}
		ret = &store.Retention{KeepBuilds: keep, MaxAgeSeconds: int64(time.Duration(days) * 24 * time.Hour / time.Second)}
	}
	if _, err := c.st().UpdateProject(c.proj.ID, func(p *store.Project) error { p.Retention = ret; return nil }); err != nil {
		return err
	}
	http.Redirect(w, r, s.settingsPath(c)+"?saved=1", http.StatusSeeOther)
	return nil
}

func (s *Server) appTokenSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" || len(name) > 100 {
		return s.renderSettings(w, r, c, http.StatusBadRequest, settingsPage{Error: "Name the token (at most 100 characters): what uses it, such as the CI job."})
	}
	scope, err := appScope(r.PostForm.Get("scope"))
	if err != nil {
		return s.renderSettings(w, r, c, http.StatusBadRequest, settingsPage{Error: "Choose what the token may do."})
	}
	plain, _, err := c.st().CreateToken(store.Token{Kind: store.TokenApp, OwnerID: c.proj.ID, Name: name, Scope: scope})
	if err != nil {
		return err
	}
	http.Redirect(w, r, s.settingsPath(c)+"?"+s.showOnce(c, plain, name), http.StatusSeeOther)
	return nil
}

func (s *Server) appTokenRevoke(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RevokeToken(c.proj.ID, c.params.ByName("prefix")); err != nil {
		return notFoundAs(err, "token")
	}
	http.Redirect(w, r, s.settingsPath(c)+"?saved=1", http.StatusSeeOther)
	return nil
}
