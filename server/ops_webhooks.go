package server

import (
	"net/url"
	"slices"
	"strings"

	"hangar/store"
)

// Reading a webhook request, as the API and the console do: it knows no
// HTTP.

type webhookRequest struct {
	URL    *string  `json:"url"`
	Events []string `json:"events"`
	Format *string  `json:"format"`
	Active *bool    `json:"active"`
}

// applyWebhook sets what req names on w and checks the result.
func applyWebhook(w *store.Webhook, req webhookRequest) error {
	if req.URL != nil {
		w.URL = strings.TrimSpace(*req.URL)
	}
	if req.Events != nil {
		w.Events = nil
		for _, e := range req.Events {
			if e == "*" {
				w.Events = slices.Clone(store.EventTypes)
				break
			}
			if !slices.Contains(store.EventTypes, e) {
				return errBadRequest("unknown event " + e + "; events are " + strings.Join(store.EventTypes, ", ") + ", or \"*\"")
			}
			if !slices.Contains(w.Events, e) {
				w.Events = append(w.Events, e)
			}
		}
	}
	if req.Format != nil {
		w.Format = *req.Format
	}
	if req.Active != nil {
		w.Active = *req.Active
	}
	if w.Format == "" {
		w.Format = store.FormatJSON
	}
	u, err := url.Parse(w.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(w.URL) > maxWebhookURL:
		return errBadRequest("url must be an http or https URL without credentials, at most 2048 characters")
	case len(w.Events) == 0:
		return errBadRequest(`events must name at least one event type, or "*"`)
	case w.Format != store.FormatJSON && w.Format != store.FormatSlack:
		return errBadRequest(`format must be "json" or "slack"`)
	}
	return nil
}
