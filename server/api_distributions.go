package server

import (
	"cmp"
	"errors"
	"net/http"

	"hangar/store"
)

// Workspace API handlers for distributions: a project's stable tester
// pages (Applivery's publications). The page itself is tester_distribution.go.

type distributionView struct {
	ID          string   `json:"id"`
	Slug        string   `json:"slug"`
	Name        string   `json:"name"`
	ProjectID   string   `json:"projectId"`
	FilterType  string   `json:"filterType"`
	FilterValue string   `json:"filterValue,omitempty"`
	Visibility  string   `json:"visibility"`
	ShowHistory bool     `json:"showHistory"`
	ShowDevInfo bool     `json:"showDevInfo"`
	Security    string   `json:"security"`
	Groups      []string `json:"groups"`
	Notify      string   `json:"notify"`
	URL         string   `json:"url"`   // the tester page
	QRURL       string   `json:"qrUrl"` // a PNG of the page's URL
	AccessCount int64    `json:"accessCount"`
	CreatedAt   isoTime  `json:"createdAt"`
	UpdatedAt   isoTime  `json:"updatedAt"`
	CreatedBy   string   `json:"createdBy,omitempty"`
}

func viewDistribution(base string, ws store.Workspace, d store.Distribution) distributionView {
	t := distSite(base, ws, d)
	return distributionView{ID: d.ID, Slug: d.Slug, Name: d.Name, ProjectID: d.ProjectID, FilterType: d.FilterType,
		FilterValue: d.FilterValue, Visibility: cmp.Or(d.Visibility, store.VisibilityActive), ShowHistory: d.ShowHistory, ShowDevInfo: d.ShowDevInfo, Security: d.Security,
		Groups: append([]string{}, d.Groups...), Notify: cmp.Or(d.Notify, store.NotifyAsk),
		URL: t.url(t.page), QRURL: t.url(t.page + "/qr"), AccessCount: d.AccessCount,
		CreatedAt: isoTime(d.CreatedAt), UpdatedAt: isoTime(d.UpdatedAt), CreatedBy: d.CreatedBy}
}

const maxDistName = 200

func (s *Server) createDistribution(w http.ResponseWriter, r *http.Request, c *call) error {
	var req distributionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	d, err := s.newDistribution(r.Context(), c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewDistribution(c.base, c.ws, d))
	return nil
}

func (s *Server) listDistributions(w http.ResponseWriter, r *http.Request, c *call) error {
	ds, err := s.store.Distributions(c.ws.ID, c.proj.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(ds, func(d store.Distribution) distributionView { return viewDistribution(c.base, c.ws, d) }))
	return nil
}

// projectDistribution resolves the path's distribution (by id or slug) in
// the request's project.
func (s *Server) projectDistribution(c *call) (store.Distribution, error) {
	name := c.params.ByName("distId")
	d, err := s.store.DistributionBySlug(c.ws.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		d, err = s.store.Distribution(name)
	}
	if err != nil || d.ProjectID != c.proj.ID {
		return d, errDistNotFound
	}
	return d, nil
}

func (s *Server) getDistribution(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.projectDistribution(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewDistribution(c.base, c.ws, d))
	return nil
}

// updateDistribution changes the fields sent. The password is hashed
// before the transaction (hashing takes a while and memory; bbolt's writer
// must not wait for it).
func (s *Server) updateDistribution(w http.ResponseWriter, r *http.Request, c *call) error {
	var req distributionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	d, err := s.editDistribution(r.Context(), c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewDistribution(c.base, c.ws, d))
	return nil
}

func (s *Server) deleteDistribution(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.projectDistribution(c)
	if err == nil {
		err = c.st().DeleteDistribution(d.ID)
	}
	if err != nil {
		return notFoundAs(err, "distribution")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// distributionAccessLog lists downloads through a distribution, newest
// first, paged as a link's access log is.
func (s *Server) distributionAccessLog(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.projectDistribution(c)
	if err != nil {
		return err
	}
	return s.writeAccessLog(w, r, d.ID)
}
