package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"hangar/store"
)

// App Center's distribution groups are the workspace's tester groups. A
// release given to a group goes on a page for that group's testers: the
// project's distribution "ac-{app}-{group}" (made the first time, for
// testers, showing the newest build tagged "appcenter-{group}"), and the
// build gets the tag. notify_testers mails the group (once per build);
// mandatory_update is kept on the build and shown.

// groupUUID is a tester group's App Center ID: App Center's clients
// refuse a group whose id is not a UUID. It is derived from the group's
// ID (version 8: a UUID by its own rule).
func groupUUID(g store.TesterGroup) string {
	b := sha256.Sum256([]byte("hangar tester group\n" + g.ID))
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type appCenterGroup struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Origin      string `json:"origin"`
	IsPublic    bool   `json:"is_public"`
	TotalUsers  int    `json:"total_user_count"`
}

func viewGroup(g store.TesterGroup) appCenterGroup {
	return appCenterGroup{ID: groupUUID(g), Name: g.Slug, DisplayName: orText(g.Name, g.Slug), Origin: "appcenter", TotalUsers: len(g.Members)}
}

var errGroupNotFound = &apiError{http.StatusNotFound, "NOT_FOUND", orgNotFound, "distribution group not found"}

// groupNamed finds the workspace's group by slug, or by name in any case
// (App Center's groups are named like "Testers").
func (s *Server) groupNamed(c *call, name string) (store.TesterGroup, error) {
	gs, err := s.store.TesterGroups(c.ws.ID)
	if err != nil {
		return store.TesterGroup{}, err
	}
	for _, g := range gs {
		if g.Slug == name || strings.EqualFold(g.Name, name) || strings.EqualFold(g.Slug, name) {
			return g, nil
		}
	}
	return store.TesterGroup{}, errGroupNotFound
}

func (s *Server) listAppCenterGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	gs, err := s.store.TesterGroups(c.ws.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(gs, viewGroup))
	return nil
}

func (s *Server) getAppCenterGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.groupNamed(c, c.params.ByName("group"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewGroup(g))
	return nil
}

// appCenterGroupMembers lists a group's testers as App Center's users.
func (s *Server) appCenterGroupMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.groupNamed(c, c.params.ByName("group"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(g.Members))
	for _, m := range g.Members {
		out = append(out, map[string]any{"email": m, "name": m, "display_name": m, "invite_pending": false})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addReleaseToGroup is POST …/releases/{id}/groups {id, mandatory_update,
// notify_testers}.
func (s *Server) addReleaseToGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	bf, err := s.projectRelease(c)
	if err != nil {
		return err
	}
	var req struct {
		ID        string `json:"id"`
		Mandatory bool   `json:"mandatory_update"`
		Notify    bool   `json:"notify_testers"`
	}
	if err := decodeLenient(r, &req); err != nil {
		return err
	}
	gs, err := s.store.TesterGroups(c.ws.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(gs, func(g store.TesterGroup) bool { return groupUUID(g) == strings.ToLower(req.ID) })
	if i < 0 {
		return errGroupNotFound
	}
	g := gs[i]
	d, err := s.groupDistribution(c, g)
	if err != nil {
		return err
	}
	tag := groupTag(g)
	if _, err := s.store.UpdateBuild(bf.Build.ID, func(b *store.Build) error {
		if !slices.Contains(b.Tags, tag) {
			b.Tags = append(b.Tags, tag)
		}
		b.Mandatory = b.Mandatory || req.Mandatory
		return nil
	}); err != nil {
		return err
	}
	if req.Notify {
		if _, err := s.store.NotifyNow(d.ID, bf.Build.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": req.ID, "mandatory_update": req.Mandatory, "notify_testers": req.Notify})
	return nil
}

// groupTag marks the builds given to a group through App Center's API.
func groupTag(g store.TesterGroup) string { return "appcenter-" + g.Slug }

// groupDistribution is the project's page for a group's App Center
// releases, made the first time.
func (s *Server) groupDistribution(c *call, g store.TesterGroup) (store.Distribution, error) {
	slug := cut("ac-"+c.proj.Slug+"-"+g.Slug, 128)
	slug = strings.TrimRight(slug, "-")
	d, err := s.store.DistributionBySlug(c.ws.ID, slug)
	if err == nil {
		if d.ProjectID != c.proj.ID {
			return d, &apiError{http.StatusConflict, "CONFLICT", orgConflict, "another project has the page " + slug}
		}
		return d, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	d, err = c.st().CreateDistribution(store.Distribution{ProjectID: c.proj.ID, Slug: slug, Name: orText(c.proj.Name, c.proj.Slug) + " for " + orText(g.Name, g.Slug),
		FilterType: store.FilterTag, FilterValue: groupTag(g), Security: store.SecurityTesters, Groups: []string{g.Slug},
		Notify: store.NotifyNever, ShowHistory: true, CreatedBy: c.who.name})
	if errors.Is(err, store.ErrConflict) {
		return s.store.DistributionBySlug(c.ws.ID, slug) // made at the same moment
	}
	return d, err
}
