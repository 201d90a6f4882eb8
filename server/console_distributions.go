package server

import (
	"cmp"
	"net/http"
	"strings"

	"hangar/auth"
	"hangar/store"
)

// Console pages for a project's distributions: the list with a form for a
// new one, and each one's page (address, QR code, settings, downloads).
// They call the API's operations (newDistribution, editDistribution).

type distRow struct {
	store.Distribution
	URL, QR string
}

type distributionsPage struct {
	Workspace workspaceRow
	Project   store.Project
	Dists     []distRow
	Can       can
	Error     string
	Form      distForm // the form as sent, when it was refused
	Base      string
}

// distForm is a distribution's settings as the console's forms carry them,
// with the workspace's tester groups to choose from (AllGroups).
type distForm struct {
	Slug, Name, FilterType, FilterValue, Security, Notify string
	ShowHistory, ShowDevInfo                              bool
	Groups, AllGroups                                     []string
}

func formOf(d store.Distribution) distForm {
	return distForm{Slug: d.Slug, Name: d.Name, FilterType: d.FilterType, FilterValue: d.FilterValue, Security: d.Security,
		ShowHistory: d.ShowHistory, ShowDevInfo: d.ShowDevInfo, Groups: d.Groups, Notify: cmp.Or(d.Notify, store.NotifyAsk)}
}

// withGroups fills in the workspace's tester groups, to choose from.
func (s *Server) withGroups(c *call, f distForm) (distForm, error) {
	gs, err := s.store.TesterGroups(c.ws.ID)
	for _, g := range gs {
		f.AllGroups = append(f.AllGroups, g.Slug)
	}
	return f, err
}

func (s *Server) distBase(c *call) string { return "/w/" + c.ws.Slug + "/p/" + c.proj.Slug + "/d" }

func distRowOf(base string, ws store.Workspace, d store.Distribution) distRow {
	t := distSite(base, ws, d)
	return distRow{Distribution: d, URL: t.url(t.page), QR: t.page + "/qr"}
}

func (s *Server) consoleCan(c *call) can {
	perms, _ := c.who.permissions(c.ws.ID, c.proj.ID)
	return can{Links: perms.Has(auth.BuildCreateLinks), Delete: perms.Has(auth.BuildDelete), Attach: perms.Has(auth.BuildCreate)}
}

func (s *Server) distributionsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderDistributions(w, r, c, http.StatusOK, "", distForm{FilterType: store.FilterLatest, Security: store.SecurityPublic, Notify: store.NotifyAsk, ShowHistory: true})
}

func (s *Server) renderDistributions(w http.ResponseWriter, r *http.Request, c *call, status int, msg string, form distForm) error {
	ds, err := s.store.Distributions(c.ws.ID, c.proj.ID)
	if err != nil {
		return err
	}
	if form, err = s.withGroups(c, form); err != nil {
		return err
	}
	p := distributionsPage{Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Project: c.proj,
		Can: s.consoleCan(c), Error: msg, Form: form, Base: s.distBase(c)}
	for _, d := range ds {
		p.Dists = append(p.Dists, distRowOf(c.base, c.ws, d))
	}
	s.renderPage(w, r, status, "distributions", "Distributions", c, p)
	return nil
}

// distRequest reads a distribution form into the API's request; the
// password only when one was typed (an edit keeps the old one otherwise).
func distRequest(r *http.Request) (distributionRequest, distForm) {
	f := r.PostForm
	form := distForm{Slug: strings.TrimSpace(f.Get("slug")), Name: f.Get("name"), FilterType: f.Get("filterType"),
		FilterValue: f.Get("filterValue"), Security: f.Get("security"), ShowHistory: f.Get("showHistory") != "", ShowDevInfo: f.Get("showDevInfo") != "",
		Groups: f["groups"], Notify: f.Get("notify")}
	req := distributionRequest{Slug: &form.Slug, Name: &form.Name, FilterType: &form.FilterType, FilterValue: &form.FilterValue,
		Security: &form.Security, ShowHistory: &form.ShowHistory, ShowDevInfo: &form.ShowDevInfo, Notify: &form.Notify}
	groups := append([]string{}, form.Groups...) // none checked: none
	req.Groups = &groups
	if pw := f.Get("password"); pw != "" {
		req.Password = &pw
	}
	return req, form
}

func (s *Server) createDistributionSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	req, form := distRequest(r)
	d, err := s.newDistribution(r.Context(), c, req)
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict {
			return s.renderDistributions(w, r, c, ae.Status, ae.Message, form)
		}
		return err
	}
	http.Redirect(w, r, s.distBase(c)+"/"+d.Slug, http.StatusSeeOther)
	return nil
}

type distributionPage struct {
	Workspace workspaceRow
	Project   store.Project
	Dist      distRow
	Form      distForm
	Can       can
	Error     string
	Done      string
	Entries   []store.AccessLogEntry
	Next      string
	Base      string // this distribution's console path
	Back      string
	consoleInstalls
}

func (s *Server) distributionPage(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.projectDistribution(c)
	if err != nil {
		return err
	}
	return s.renderDistribution(w, r, c, http.StatusOK, d, "", formOf(d))
}

func (s *Server) renderDistribution(w http.ResponseWriter, r *http.Request, c *call, status int, d store.Distribution, msg string, form distForm) error {
	entries, next, err := s.store.AccessLog(d.ID, store.Page{Limit: 50, After: r.URL.Query().Get("after")})
	if err != nil {
		return err
	}
	if form, err = s.withGroups(c, form); err != nil {
		return err
	}
	p := distributionPage{Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Project: c.proj,
		Dist: distRowOf(c.base, c.ws, d), Form: form, Can: s.consoleCan(c), Error: msg, Entries: entries,
		Base: s.distBase(c) + "/" + d.Slug, Back: s.distBase(c)}
	if r.URL.Query().Get("saved") != "" {
		p.Done = "Saved."
	}
	if p.consoleInstalls, err = s.installsFor(c, store.InstallQuery{DistributionID: d.ID}, p.Base+"/installs.csv"); err != nil {
		return err
	}
	if next != "" {
		p.Next = p.Base + "?after=" + next
	}
	s.renderPage(w, r, status, "distribution", orText(d.Name, d.Slug), c, p)
	return nil
}

func (s *Server) updateDistributionSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	req, form := distRequest(r)
	d, err := s.editDistribution(r.Context(), c, req)
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict {
			if cur, err := s.projectDistribution(c); err == nil {
				return s.renderDistribution(w, r, c, ae.Status, cur, ae.Message, form)
			}
		}
		return err
	}
	http.Redirect(w, r, s.distBase(c)+"/"+d.Slug+"?saved=1", http.StatusSeeOther)
	return nil
}

func (s *Server) deleteDistributionSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.projectDistribution(c)
	if err == nil {
		err = notFoundAs(c.st().DeleteDistribution(d.ID), "distribution")
	}
	if err != nil {
		return err
	}
	s.log.Info("distribution deleted", "distribution", d.Slug, "project", c.proj.Slug, "by", c.who.name)
	http.Redirect(w, r, s.distBase(c), http.StatusSeeOther)
	return nil
}
