package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"hangar/auth"
	"hangar/store"
)

// Operations on distributions (stable tester pages) that the workspace
// API, the Integrations API and the console share: they know no HTTP.

// distributionRequest creates (every field but slug optional) or updates
// (only the fields sent) a distribution. The password is write-only.
type distributionRequest struct {
	Slug        *string   `json:"slug"`
	Name        *string   `json:"name"`
	FilterType  *string   `json:"filterType"`
	FilterValue *string   `json:"filterValue"`
	Visibility  *string   `json:"visibility"`
	ShowHistory *bool     `json:"showHistory"`
	ShowDevInfo *bool     `json:"showDevInfo"`
	Security    *string   `json:"security"`
	Password    *string   `json:"password"`
	Groups      *[]string `json:"groups"` // tester groups' slugs
	Notify      *string   `json:"notify"`
}

// apply sets what req names on d, hashing a new password; a page that
// moves to password mode needs one.
func (s *Server) applyDistribution(ctx context.Context, d *store.Distribution, req distributionRequest) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&d.Slug, req.Slug)
	set(&d.Name, req.Name)
	set(&d.FilterType, req.FilterType)
	set(&d.FilterValue, req.FilterValue)
	set(&d.Security, req.Security)
	set(&d.Visibility, req.Visibility)
	if req.ShowHistory != nil {
		d.ShowHistory = *req.ShowHistory
	}
	if req.ShowDevInfo != nil {
		d.ShowDevInfo = *req.ShowDevInfo
	}
	if req.Notify != nil {
		d.Notify = strings.TrimSpace(*req.Notify)
	}
	if req.Groups != nil {
		if len(*req.Groups) > store.MaxDistributionGroups {
			return errBadRequest(fmt.Sprintf("a distribution is for at most %d tester groups", store.MaxDistributionGroups))
		}
		gs := make([]string, 0, len(*req.Groups))
		for _, g := range *req.Groups {
			if g = strings.TrimSpace(g); !store.ValidSlug(g) {
				return errBadRequest("groups are tester groups' slugs")
			}
			gs = append(gs, g)
		}
		slices.Sort(gs)
		d.Groups = slices.Compact(gs)
	}
	switch {
	case !store.ValidDistributionSlug(d.Slug):
		return errBadRequest("slug must be 1 to 128 lowercase letters, digits and inner dashes")
	case len(d.Name) > maxDistName:
		return errBadRequest("name is too long")
	case d.FilterType != store.FilterLatest && d.FilterType != store.FilterTag && d.FilterType != store.FilterGitBranch && d.FilterType != store.FilterGitTag:
		return errBadRequest(`filterType must be "latest", "tag", "gitBranch" or "gitTag"`)
	case d.FilterType != store.FilterLatest && (d.FilterValue == "" || len(d.FilterValue) > maxDistName):
		return errBadRequest("a " + d.FilterType + " filter needs its value in filterValue")
	case d.Visibility != "" && d.Visibility != store.VisibilityActive && d.Visibility != store.VisibilityUnlisted && d.Visibility != store.VisibilityInactive:
		return errBadRequest(`visibility must be "active", "unlisted" or "inactive"`)
	case d.Security != store.SecurityPublic && d.Security != store.SecurityPassword && d.Security != store.SecurityMembers && d.Security != store.SecurityTesters:
		return errBadRequest(`security must be "public", "password", "members" or "testers"`)
	case d.Notify != "" && d.Notify != store.NotifyAlways && d.Notify != store.NotifyAsk && d.Notify != store.NotifyNever:
		return errBadRequest(`notify must be "always", "ask" or "never"`)
	}
	if d.FilterType == store.FilterLatest {
		d.FilterValue = ""
	}
	if req.Password != nil && *req.Password != "" {
		if d.Security != store.SecurityPassword {
			return errBadRequest(`a password needs security "password"`)
		}
		hash, err := s.pagePasswordHash(ctx, *req.Password)
		if err != nil {
			return err
		}
		d.PasswordHash = hash
	}
	if d.Security == store.SecurityPassword && d.PasswordHash == "" {
		return errBadRequest(`security "password" needs a password`)
	}
	return nil
}

// newDistribution creates a distribution of the request's project, as the
// API and the console ask for one.
//
// A page is public unless asked otherwise, or members-only for a caller
// who may not share openly (an app token of scope publish).
func (s *Server) newDistribution(ctx context.Context, c *call, req distributionRequest) (store.Distribution, error) {
	d := store.Distribution{ProjectID: c.proj.ID, FilterType: store.FilterLatest, Security: store.SecurityPublic, CreatedBy: c.who.name}
	if !c.may(auth.BuildShareOpenly) {
		d.Security = store.SecurityMembers
	}
	if err := s.applyDistribution(ctx, &d, req); err != nil {
		return d, err
	}
	if err := mayShare(c, d); err != nil {
		return d, err
	}
	d, err := c.st().CreateDistribution(d)
	return d, distributionErr(err)
}

func (s *Server) editDistribution(ctx context.Context, c *call, req distributionRequest) (store.Distribution, error) {
	d, err := s.projectDistribution(c)
	if err != nil {
		return d, err
	}
	if err := s.applyDistribution(ctx, &d, req); err != nil {
		return d, err
	}
	if err := mayShare(c, d); err != nil {
		return d, err
	}
	d, err = c.st().UpdateDistribution(d.ID, func(cur *store.Distribution) error {
		*cur = d
		return nil
	})
	return d, distributionErr(err)
}

// distributionErr names a taken slug (the store's other refusals, such as
// a group that does not exist, are 400s as they are).
func distributionErr(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &apiError{http.StatusConflict, "SLUG_TAKEN", orgConflict, "another distribution of this workspace has this slug"}
	}
	return err
}

// mayShare refuses a page open beyond named people (public, or a shared
// password) to a caller without BUILD_SHARE_OPENLY. Narrowing an open
// page to members or tester groups (whom the team chose) needs no more
// than changing it.
func mayShare(c *call, d store.Distribution) error {
	if d.Security != store.SecurityMembers && d.Security != store.SecurityTesters && !c.may(auth.BuildShareOpenly) {
		return errForbidden("this token lacks the " + auth.BuildShareOpenly.String() + ` permission: it may make members-only pages ("security": "logged" in the Integrations API, "members" in the workspace API), not public or password ones`)
	}
	return nil
}
