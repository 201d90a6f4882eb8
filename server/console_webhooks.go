package server

import (
	"net/http"
	"slices"
	"strings"

	"hangar/store"
)

// Console pages for a project's webhooks (workspace admins): the list with
// a form for a new one (its secret shown once), and each one's page
// (settings, the delivery log with every attempt, send again, delete).
// They call the API's checks (applyWebhook) and the store's operations.

type webhooksPage struct {
	Workspace workspaceRow
	Project   store.Project
	Hooks     []store.Webhook
	Types     []string
	Form      webhookForm
	NewSecret string // of a webhook just created: shown this once
	NewHook   string
	Error     string
	Base      string
}

type webhookForm struct {
	URL    string
	Events []string
	Format string
	Active bool
}

func (f webhookForm) Has(event string) bool { return slices.Contains(f.Events, event) }

// webhooksBase is the console path of the request's webhooks: a project's,
// or (no project in the path) the workspace-wide ones.
func (s *Server) webhooksBase(c *call) string {
	if c.proj.ID == "" {
		return "/w/" + c.ws.Slug + "/webhooks"
	}
	return "/w/" + c.ws.Slug + "/p/" + c.proj.Slug + "/webhooks"
}

func (s *Server) webhooksPage(w http.ResponseWriter, r *http.Request, c *call) error {
	p := webhooksPage{Form: webhookForm{Events: []string{store.EventBuildProcessed}, Format: store.FormatJSON}}
	p.NewSecret, p.NewHook, _ = s.takeShown(r, c)
	return s.renderWebhooks(w, r, c, http.StatusOK, p)
}

func (s *Server) renderWebhooks(w http.ResponseWriter, r *http.Request, c *call, status int, p webhooksPage) error {
	hooks, err := s.store.Webhooks(c.ws.ID, cmpOrStar(c.proj.ID))
	if err != nil {
		return err
	}
	p.Workspace = workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}
	p.Project, p.Hooks, p.Types, p.Base = c.proj, hooks, store.EventTypes, s.webhooksBase(c)
	s.renderPage(w, r, status, "webhooks", "Webhooks", c, p)
	return nil
}

// webhookRequestOf reads a webhook form.
func webhookRequestOf(r *http.Request) (webhookRequest, webhookForm) {
	f := r.PostForm
	form := webhookForm{URL: strings.TrimSpace(f.Get("url")), Events: f["events"], Format: f.Get("format"), Active: f.Get("active") != ""}
	events := form.Events
	if events == nil {
		events = []string{}
	}
	return webhookRequest{URL: &form.URL, Events: events, Format: &form.Format, Active: &form.Active}, form
}

func (s *Server) createWebhookSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	req, form := webhookRequestOf(r)
	req.Active = nil
	wh := store.Webhook{WorkspaceID: c.ws.ID, ProjectID: webhookScope(c), CreatedBy: c.who.name}
	err := applyWebhook(&wh, req)
	if err == nil {
		wh, err = c.st().CreateWebhook(wh)
	}
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest {
			return s.renderWebhooks(w, r, c, http.StatusBadRequest, webhooksPage{Error: ae.Message, Form: form})
		}
		return err
	}
	s.log.Info("webhook created", "webhook", wh.ID, "project", c.proj.Slug, "by", c.who.name)
	http.Redirect(w, r, s.webhooksBase(c)+"?"+s.showOnce(c, wh.Secret, wh.ID), http.StatusSeeOther)
	return nil
}

type webhookPage struct {
	Workspace  workspaceRow
	Project    store.Project
	Hook       store.Webhook
	Form       webhookForm
	Types      []string
	Deliveries []store.Delivery
	Next       string
	Error      string
	Done       string
	Base       string
	Back       string
}

func (s *Server) webhookPage(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	if err != nil {
		return err
	}
	done := ""
	switch {
	case r.URL.Query().Get("saved") != "":
		done = "Saved."
	case r.URL.Query().Get("queued") != "":
		done = "Queued: it goes out after anything already waiting."
	}
	return s.renderWebhook(w, r, c, http.StatusOK, wh, webhookForm{URL: wh.URL, Events: wh.Events, Format: wh.Format, Active: wh.Active}, "", done)
}

func (s *Server) renderWebhook(w http.ResponseWriter, r *http.Request, c *call, status int, wh store.Webhook, form webhookForm, msg, done string) error {
	ds, next, err := s.store.Deliveries(wh.ID, store.Page{Limit: 25, After: r.URL.Query().Get("after")})
	if err != nil {
		return err
	}
	p := webhookPage{Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Project: c.proj, Hook: wh, Form: form,
		Types: store.EventTypes, Deliveries: ds, Error: msg, Done: done, Base: s.webhooksBase(c) + "/" + wh.ID, Back: s.webhooksBase(c)}
	if next != "" {
		p.Next = p.Base + "?after=" + next
	}
	s.renderPage(w, r, status, "webhook", "Webhook", c, p)
	return nil
}

func (s *Server) updateWebhookSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	if err != nil {
		return err
	}
	req, form := webhookRequestOf(r)
	updated, err := c.st().UpdateWebhook(wh.ID, func(x *store.Webhook) error { return applyWebhook(x, req) })
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest {
			return s.renderWebhook(w, r, c, http.StatusBadRequest, wh, form, ae.Message, "")
		}
		return err
	}
	http.Redirect(w, r, s.webhooksBase(c)+"/"+updated.ID+"?saved=1", http.StatusSeeOther)
	return nil
}

func (s *Server) deleteWebhookSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	if err == nil {
		err = notFoundAs(c.st().DeleteWebhook(wh.ID), "webhook")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, s.webhooksBase(c), http.StatusSeeOther)
	return nil
}

func (s *Server) redeliverSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	if err == nil {
		_, err = s.store.Redeliver(wh.ID, c.params.ByName("deliveryId"))
		err = notFoundAs(err, "delivery")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, s.webhooksBase(c)+"/"+wh.ID+"?queued=1", http.StatusSeeOther)
	return nil
}
