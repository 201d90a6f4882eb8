package server

import (
	"errors"
	"net/http"
	"time"

	"hangar/store"
)

// Workspace API handlers for webhooks: per project
// (…/project/{proj}/webhook) or for every project of a workspace
// (…/workspace/{ws}/webhook). Delivery is package webhook's.

type webhookView struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Format         string   `json:"format"`
	ProjectID      string   `json:"projectId,omitempty"`
	Active         bool     `json:"active"`
	DisabledReason string   `json:"disabledReason,omitempty"`
	FailingSince   *isoTime `json:"failingSince,omitempty"`
	Pending        int      `json:"pending"`
	// Secret is shown once, in the answer to the webhook's creation.
	Secret    string  `json:"secret,omitempty"`
	CreatedAt isoTime `json:"createdAt"`
	CreatedBy string  `json:"createdBy,omitempty"`
}

func viewWebhook(w store.Webhook) webhookView {
	v := webhookView{ID: w.ID, URL: w.URL, Events: w.Events, Format: w.Format, ProjectID: w.ProjectID, Active: w.Active,
		DisabledReason: w.DisabledReason, Pending: w.Pending, CreatedAt: isoTime(w.CreatedAt), CreatedBy: w.CreatedBy}
	if !w.FailingSince.IsZero() {
		t := isoTime(w.FailingSince)
		v.FailingSince = &t
	}
	return v
}

const maxWebhookURL = 2048

// webhookScope is the project of a project's webhook route, "" for the
// workspace's.
func webhookScope(c *call) string { return c.proj.ID }

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	var req webhookRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	wh := store.Webhook{WorkspaceID: c.ws.ID, ProjectID: webhookScope(c), CreatedBy: c.who.name}
	if err := applyWebhook(&wh, req); err != nil {
		return err
	}
	wh, err := c.st().CreateWebhook(wh)
	if err != nil {
		return err
	}
	s.log.Info("webhook created", "webhook", wh.ID, "workspace", c.ws.Slug, "by", c.who.name)
	v := viewWebhook(wh)
	v.Secret = wh.Secret
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, c *call) error {
	hooks, err := s.store.Webhooks(c.ws.ID, cmpOrStar(webhookScope(c)))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(hooks, viewWebhook))
	return nil
}

func cmpOrStar(projectID string) string {
	if projectID == "" {
		return "*"
	}
	return projectID
}

var errWebhookNotFound = errNotFound("webhook")

// scopedWebhook is the path's webhook, if it is of the route's scope.
func (s *Server) scopedWebhook(c *call) (store.Webhook, error) {
	wh, err := s.store.Webhook(c.params.ByName("webhookId"))
	if err != nil || wh.WorkspaceID != c.ws.ID || wh.ProjectID != webhookScope(c) {
		return wh, errWebhookNotFound
	}
	return wh, nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewWebhook(wh))
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	var req webhookRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	wh, err := s.scopedWebhook(c)
	if err == nil {
		wh, err = c.st().UpdateWebhook(wh.ID, func(x *store.Webhook) error { return applyWebhook(x, req) })
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewWebhook(wh))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	if err == nil {
		err = c.st().DeleteWebhook(wh.ID)
	}
	if err != nil {
		return notFoundAs(err, "webhook")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// attemptView is one try of a delivery: its status and a fixed error
// class, never what the receiver said.
type attemptView struct {
	Time      time.Time `json:"time"`
	Status    int       `json:"status,omitempty"` // the receiver's HTTP status, 0 if none
	LatencyMS int64     `json:"latencyMs"`
	Error     string    `json:"error,omitempty"`
}

type deliveryView struct {
	ID          string        `json:"id"`
	Event       string        `json:"event"`
	EventID     string        `json:"eventId"`
	State       string        `json:"state"`
	Tries       int           `json:"tries"`
	Attempts    []attemptView `json:"attempts"`
	NextAttempt *time.Time    `json:"nextAttempt,omitempty"`
	CreatedAt   isoTime       `json:"createdAt"`
}

func viewDelivery(d store.Delivery) deliveryView {
	v := deliveryView{ID: d.ID, Event: d.Event.Type, EventID: d.Event.ID, State: d.State, Tries: d.Tries,
		Attempts: make([]attemptView, 0, len(d.Attempts)), CreatedAt: isoTime(d.CreatedAt)}
	for _, a := range d.Attempts {
		v.Attempts = append(v.Attempts, attemptView{Time: a.Time, Status: a.Status, LatencyMS: a.LatencyMS, Error: a.Error})
	}
	if !d.NextAttempt.IsZero() {
		t := d.NextAttempt
		v.NextAttempt = &t
	}
	return v
}

// listDeliveries is a webhook's delivery log, newest first, paged.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	if err != nil {
		return err
	}
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	ds, next, err := s.store.Deliveries(wh.ID, page)
	if err != nil {
		return err
	}
	linkNext(w, r, next)
	writeJSON(w, http.StatusOK, viewAll(ds, viewDelivery))
	return nil
}

// redeliver queues a delivery again, with its ID and event, after the
// webhook's other pending deliveries.
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request, c *call) error {
	wh, err := s.scopedWebhook(c)
	var d store.Delivery
	if err == nil {
		d, err = s.store.Redeliver(wh.ID, c.params.ByName("deliveryId"))
	}
	if errors.Is(err, store.ErrNotFound) {
		err = errNotFound("delivery")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, viewDelivery(d))
	return nil
}
