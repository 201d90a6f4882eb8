package server

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"hangar/store"
)

// Applivery's read side, for the clients CI already runs: builds (an app
// token reads its own app's; the organization API any app's it may see),
// apps, and the Integrations API's distributions (Applivery's
// publications: Hangar distributions). Lists answer Applivery's paged
// envelope: {"status": true, "data": {"items": […], "totalItems",
// "totalPages", "page", "limit", "itemsPerPage", "currentPage"}}.

// orgListPage is Applivery's paged list. itemsPerPage and currentPage
// repeat limit and page under the names some clients read.
type orgListPage struct {
	Items        any `json:"items"`
	TotalItems   int `json:"totalItems"`
	TotalPages   int `json:"totalPages"`
	Page         int `json:"page"`
	Limit        int `json:"limit"`
	ItemsPerPage int `json:"itemsPerPage"`
	CurrentPage  int `json:"currentPage"`
}

func listPage(items any, total, page, limit int) orgListPage {
	return orgListPage{Items: items, TotalItems: total, TotalPages: (total + limit - 1) / limit, Page: page, Limit: limit,
		ItemsPerPage: limit, CurrentPage: page}
}

const (
	orgDefaultLimit = 25
	orgMaxLimit     = 100
)

// orgPaging reads page (from 1), limit (1 to 100) and sort
// (createdAt:desc, the default, or createdAt:asc; updatedAt is taken as
// createdAt).
func orgPaging(r *http.Request) (page, limit int, asc bool, err error) {
	q := r.URL.Query()
	page, limit = 1, orgDefaultLimit
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 || page > 1_000_000 {
			return 0, 0, false, errBadRequest("page must be a number from 1")
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > orgMaxLimit {
			return 0, 0, false, errBadRequest("limit must be a number from 1 to 100")
		}
	}
	if v := q.Get("sort"); v != "" {
		field, order, _ := strings.Cut(v, ":")
		if (field != "createdAt" && field != "updatedAt") || (order != "" && order != "asc" && order != "desc") {
			return 0, 0, false, errBadRequest(`sort must be createdAt:asc or createdAt:desc`)
		}
		asc = order == "asc"
	}
	return page, limit, asc, nil
}

// buildQueryOf reads the documented build filters.
func buildQueryOf(r *http.Request) (store.BuildQuery, error) {
	q := r.URL.Query()
	bq := store.BuildQuery{VersionName: q.Get("versionName"), Status: q.Get("status"), OS: q.Get("os"),
		Branch: cmp.Or(q.Get("gitBranch"), q.Get("branch")), GitTag: q.Get("gitTag")}
	for _, t := range strings.Split(cmp.Or(q.Get("tags"), q.Get("tag")), ",") {
		if t = strings.TrimSpace(t); t != "" {
			bq.Tags = append(bq.Tags, t)
		}
	}
	switch bq.Status {
	case "", store.BuildPending, store.BuildInProgress, store.BuildProcessed, store.BuildError:
	default:
		return bq, errBadRequest("status must be pending, in_progress, processed or error")
	}
	return bq, nil
}

// listOrgBuilds answers a page of the request's app's builds.
func (s *Server) listOrgBuilds(w http.ResponseWriter, r *http.Request, c *call) error {
	page, limit, asc, err := orgPaging(r)
	if err != nil {
		return err
	}
	q, err := buildQueryOf(r)
	if err != nil {
		return err
	}
	res, err := s.store.QueryBuilds(c.proj.ID, q, asc, (page-1)*limit, limit)
	if err != nil {
		return err
	}
	items := make([]orgBuild, 0, len(res.Builds))
	for _, b := range res.Builds {
		items = append(items, s.viewOrgBuild(c, b.Build, b.Files))
	}
	writeOrg(w, http.StatusOK, listPage(items, res.Total, page, limit))
	return nil
}

// orgApp is Applivery's app object, for a project.
type orgApp struct {
	ID           string  `json:"id"`
	Slug         string  `json:"slug"`
	Name         string  `json:"name"`
	OS           string  `json:"os,omitempty"` // the project's platform
	Organization string  `json:"organization"`
	CreatedAt    orgTime `json:"createdAt"`
	UpdatedAt    orgTime `json:"updatedAt"`
}

func viewOrgApp(p store.Project) orgApp {
	return orgApp{ID: p.ID, Slug: p.Slug, Name: cmp.Or(p.Name, p.Slug), OS: p.Platform, Organization: p.WorkspaceID,
		CreatedAt: orgTime(p.CreatedAt), UpdatedAt: orgTime(p.CreatedAt)}
}

// listOrgApps answers a page of the organization's apps, newest first
// (oldest first with sort=createdAt:asc).
func (s *Server) listOrgApps(w http.ResponseWriter, r *http.Request, c *call) error {
	page, limit, asc, err := orgPaging(r)
	if err != nil {
		return err
	}
	ps, err := s.store.Projects(c.ws.ID)
	if err != nil {
		return err
	}
	sortByCreation(ps, func(p store.Project) time.Time { return p.CreatedAt }, asc)
	writeOrg(w, http.StatusOK, listPage(viewAll(window(ps, page, limit), viewOrgApp), len(ps), page, limit))
	return nil
}

func (s *Server) getOrgApp(w http.ResponseWriter, r *http.Request, c *call) error {
	writeOrg(w, http.StatusOK, viewOrgApp(c.proj))
	return nil
}

// getIntegrationBuild is a build of the app token's app: how CI polls for
// the end of processing.
func (s *Server) getIntegrationBuild(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.orgBuildDetails(w, r, c)
}

// orgPublication is Applivery's publication object, for a distribution.
type orgPublication struct {
	ID              string        `json:"id"`
	Slug            string        `json:"slug"`
	Name            string        `json:"name,omitempty"`
	Application     string        `json:"application"`
	DistributionURL string        `json:"distributionUrl"`
	Filter          orgPublFilter `json:"filter"`
	Visibility      string        `json:"visibility"`
	Security        string        `json:"security"`
	ShowDevInfo     bool          `json:"showDevInfo"`
	ShowHistory     bool          `json:"showHistory"`
	Tags            []string      `json:"tags"`
	Groups          []string      `json:"groups"`
	AccessCount     int64         `json:"accessCount"`
	CreatedAt       orgTime       `json:"createdAt"`
	UpdatedAt       orgTime       `json:"updatedAt"`
	CreatedBy       string        `json:"createdBy,omitempty"`
}

type orgPublFilter struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Applivery's names for filters and security modes, and Hangar's.
var (
	publFilterTypes = map[string]string{"last": store.FilterLatest, "tag": store.FilterTag, "gitBranch": store.FilterGitBranch, "gitTag": store.FilterGitTag}
	publSecurity    = map[string]string{"public": store.SecurityPublic, "password": store.SecurityPassword, "logged": store.SecurityMembers}
)

func reverse(m map[string]string, v string) string {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return v
}

func viewPublication(base string, ws store.Workspace, d store.Distribution) orgPublication {
	t := distSite(base, ws, d)
	return orgPublication{ID: d.ID, Slug: d.Slug, Name: d.Name, Application: d.ProjectID, DistributionURL: t.url(t.page),
		Filter:     orgPublFilter{Type: reverse(publFilterTypes, d.FilterType), Value: d.FilterValue},
		Visibility: cmp.Or(d.Visibility, store.VisibilityActive), Security: reverse(publSecurity, d.Security),
		ShowDevInfo: d.ShowDevInfo, ShowHistory: d.ShowHistory, Tags: []string{}, Groups: []string{}, AccessCount: d.AccessCount,
		CreatedAt: orgTime(d.CreatedAt), UpdatedAt: orgTime(d.UpdatedAt), CreatedBy: d.CreatedBy}
}

// listIntegrationDistributions lists the app's distributions, filtered by
// slug, filterType and filterValue, visibility and security.
func (s *Server) listIntegrationDistributions(w http.ResponseWriter, r *http.Request, c *call) error {
	page, limit, asc, err := orgPaging(r)
	if err != nil {
		return err
	}
	ds, err := s.store.Distributions(c.ws.ID, c.proj.ID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	match := func(d store.Distribution) bool {
		v := viewPublication("", c.ws, d)
		return (q.Get("slug") == "" || strings.EqualFold(q.Get("slug"), d.Slug)) &&
			(q.Get("filterType") == "" || q.Get("filterType") == v.Filter.Type) &&
			(q.Get("filterValue") == "" || q.Get("filterValue") == v.Filter.Value) &&
			(q.Get("visibility") == "" || q.Get("visibility") == v.Visibility) &&
			(q.Get("security") == "" || q.Get("security") == v.Security)
	}
	var kept []store.Distribution
	for _, d := range ds {
		if match(d) {
			kept = append(kept, d)
		}
	}
	sortByCreation(kept, func(d store.Distribution) time.Time { return d.CreatedAt }, asc)
	items := viewAll(window(kept, page, limit), func(d store.Distribution) orgPublication { return viewPublication(c.base, c.ws, d) })
	writeOrg(w, http.StatusOK, listPage(items, len(kept), page, limit))
	return nil
}

// publicationRequest is Applivery's body for a new publication. tags and
// groups (who may see it in Applivery's store) are accepted and not kept:
// Hangar has no groups.
type publicationRequest struct {
	Slug       string  `json:"slug"`
	Name       string  `json:"name"`
	Visibility string  `json:"visibility"`
	Security   string  `json:"security"`
	Password   *string `json:"password"`
	Filter     *struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"filter"`
	ShowDevInfo *bool    `json:"showDevInfo"`
	ShowHistory *bool    `json:"showHistory"`
	Tags        []string `json:"tags"`
	Groups      []any    `json:"groups"`
}

// createIntegrationDistribution makes a publication of the app token's
// app: a Hangar distribution.
func (s *Server) createIntegrationDistribution(w http.ResponseWriter, r *http.Request, c *call) error {
	var req publicationRequest
	if err := decodeLenientJSON(r, &req); err != nil {
		return err
	}
	dreq := distributionRequest{Slug: &req.Slug, ShowDevInfo: req.ShowDevInfo, ShowHistory: req.ShowHistory}
	if req.Name != "" {
		dreq.Name = &req.Name
	}
	if req.Visibility != "" {
		dreq.Visibility = &req.Visibility
	}
	if req.Security != "" {
		sec, ok := publSecurity[req.Security]
		if !ok {
			return errBadRequest(`security must be "public", "password" or "logged"`)
		}
		dreq.Security = &sec
	}
	if req.Password != nil && *req.Password != "" {
		dreq.Password = req.Password
	}
	if f := req.Filter; f != nil {
		ft, ok := publFilterTypes[f.Type]
		if !ok {
			return errBadRequest(`filter.type must be "last", "tag", "gitBranch" or "gitTag" ("builds", a fixed list, is not supported)`)
		}
		dreq.FilterType, dreq.FilterValue = &ft, &f.Value
	}
	d, err := s.newDistribution(r.Context(), c, dreq)
	if err != nil {
		return err
	}
	writeOrg(w, http.StatusCreated, viewPublication(c.base, c.ws, d))
	return nil
}

// window is the page'th slice of limit items.
func window[T any](all []T, page, limit int) []T {
	from := min((page-1)*limit, len(all))
	return all[from:min(from+limit, len(all))]
}

func sortByCreation[T any](xs []T, at func(T) time.Time, asc bool) {
	slices.SortStableFunc(xs, func(a, b T) int {
		if asc {
			return at(a).Compare(at(b))
		}
		return at(b).Compare(at(a))
	})
}
