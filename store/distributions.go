package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Distribution filters: which builds of its project a distribution shows.
const (
	FilterLatest    = "latest"    // every processed build
	FilterTag       = "tag"       // processed builds carrying every tag of FilterValue (comma-separated)
	FilterGitBranch = "gitBranch" // processed builds CI made from the git branch FilterValue
	FilterGitTag    = "gitTag"    // processed builds CI made from the git tag FilterValue
)

// Distribution visibilities, as Applivery names them: an inactive one's
// page is gone until it is made active or unlisted again (Hangar lists no
// distribution publicly, so active and unlisted are alike).
const (
	VisibilityActive   = "active"
	VisibilityUnlisted = "unlisted"
	VisibilityInactive = "inactive"
)

// Distribution security modes.
const (
	SecurityPublic   = "public"   // anyone with the URL
	SecurityPassword = "password" // anyone who knows the password
	SecurityMembers  = "members"  // console users who may download the project's builds
	SecurityTesters  = "testers"  // the members of its tester groups, and the members
)

// When a distribution mails its groups about a new build.
const (
	NotifyAlways = "always" // every build it comes to serve
	NotifyAsk    = "ask"    // builds whose upload asked for it (the default)
	NotifyNever  = "never"
)

// MaxDistributionGroups bounds the groups of one distribution.
const MaxDistributionGroups = 20

// Distribution is a stable tester page of a project (Applivery's
// publication): it always shows the newest processed build its filter
// matches. Downloads through it are counted and logged like a public
// link's, under its ID.
type Distribution struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspaceId"`
	ProjectID   string `json:"projectId"`
	Slug        string `json:"slug"` // unique in the workspace; its URL is /d/{workspace slug}/{slug}
	Name        string `json:"name,omitempty"`
	FilterType  string `json:"filterType"`
	FilterValue string `json:"filterValue,omitempty"`
	Visibility  string `json:"visibility,omitempty"` // "" is active
	ShowHistory bool   `json:"showHistory"`
	ShowDevInfo bool   `json:"showDevInfo"`
	Security    string `json:"security"`
	// PasswordHash is the argon2id hash of the password (SecurityPassword).
	PasswordHash string `json:"passwordHash,omitempty"`
	// Generation counts changes of the page's protection (its security
	// mode or password): every URL the page issues is signed with it, so
	// one change ends all of them. UpdateDistribution keeps it.
	Generation uint64 `json:"generation,omitempty"`
	// Groups are the slugs of the tester groups it is for (SecurityTesters;
	// kept as they are in other modes, where they get mail only).
	Groups      []string  `json:"groups,omitempty"`
	Notify      string    `json:"notify,omitempty"` // "" is NotifyAsk
	AccessCount int64     `json:"accessCount"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
}

// Query is the build query that picks the distribution's builds.
func (d Distribution) Query() BuildQuery {
	q := BuildQuery{Status: BuildProcessed}
	switch d.FilterType {
	case FilterTag:
		for _, t := range strings.Split(d.FilterValue, ",") {
			if t = strings.TrimSpace(t); t != "" {
				q.Tags = append(q.Tags, t)
			}
		}
	case FilterGitBranch:
		q.Branch = d.FilterValue
	case FilterGitTag:
		q.GitTag = d.FilterValue
	}
	return q
}

// ValidDistributionSlug reports whether s can be a distribution's slug:
// as a workspace's, but up to 128 characters (CI names them after git
// branches).
func ValidDistributionSlug(s string) bool { return validSlug(s, 128) }

// Inactive reports whether the distribution's page is turned off.
func (d Distribution) Inactive() bool { return d.Visibility == VisibilityInactive }

func (d Distribution) valid() error {
	switch {
	case !ValidDistributionSlug(d.Slug):
		return fmt.Errorf("%w: distribution slug %q", ErrInvalid, d.Slug)
	case d.FilterType != FilterLatest && d.FilterType != FilterTag && d.FilterType != FilterGitBranch && d.FilterType != FilterGitTag:
		return fmt.Errorf("%w: filter type %q", ErrInvalid, d.FilterType)
	case d.FilterType != FilterLatest && d.FilterValue == "":
		return fmt.Errorf("%w: a %s filter needs a value", ErrInvalid, d.FilterType)
	case d.Visibility != "" && d.Visibility != VisibilityActive && d.Visibility != VisibilityUnlisted && d.Visibility != VisibilityInactive:
		return fmt.Errorf("%w: visibility %q", ErrInvalid, d.Visibility)
	case d.Security != SecurityPublic && d.Security != SecurityPassword && d.Security != SecurityMembers && d.Security != SecurityTesters:
		return fmt.Errorf("%w: security %q", ErrInvalid, d.Security)
	case d.Notify != "" && d.Notify != NotifyAlways && d.Notify != NotifyAsk && d.Notify != NotifyNever:
		return fmt.Errorf("%w: notify %q", ErrInvalid, d.Notify)
	case len(d.Groups) > MaxDistributionGroups:
		return fmt.Errorf("%w: a distribution is for at most %d groups", ErrInvalid, MaxDistributionGroups)
	case d.Security == SecurityPassword && d.PasswordHash == "":
		return fmt.Errorf("%w: password mode needs a password", ErrInvalid)
	}
	return nil
}

// CreateDistribution stores a new distribution of an existing project. It
// returns ErrNotFound for a missing project, ErrInvalid for a bad slug,
// filter or mode, and ErrConflict if the slug is taken in the workspace.
func (s *Store) CreateDistribution(d Distribution) (Distribution, error) {
	d.ID = NewID()
	d.CreatedAt = s.now().UTC()
	d.UpdatedAt = d.CreatedAt
	d.AccessCount = 0
	if d.Security != SecurityPassword {
		d.PasswordHash = ""
	}
	if err := d.valid(); err != nil {
		return Distribution{}, err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		var p Project
		if err := get(tx.Bucket(bucketProjects), []byte(d.ProjectID), &p); err != nil {
			return fmt.Errorf("project %s: %w", d.ProjectID, err)
		}
		d.WorkspaceID = p.WorkspaceID
		if err := groupsExist(tx, d); err != nil {
			return err
		}
		slugs := tx.Bucket(bucketDistSlugs)
		k := key(d.WorkspaceID, d.Slug)
		if slugs.Get(k) != nil {
			return fmt.Errorf("distribution %q: %w", d.Slug, ErrConflict)
		}
		if err := slugs.Put(k, []byte(d.ID)); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketDistributions), []byte(d.ID), d); err != nil {
			return err
		}
		return s.record(tx, AuditDistributionCreated, distributionTarget(d), d.WorkspaceID,
			map[string]any{"project": p.Slug, "security": d.Security, "groups": d.Groups})
	})
	if err != nil {
		return Distribution{}, err
	}
	return d, nil
}

// Distribution returns the distribution with the given ID, or ErrNotFound.
func (s *Store) Distribution(id string) (Distribution, error) {
	var d Distribution
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketDistributions), []byte(id), &d)
	})
	return d, err
}

// DistributionBySlug returns a workspace's distribution by slug, or
// ErrNotFound.
func (s *Store) DistributionBySlug(workspaceID, slug string) (Distribution, error) {
	var d Distribution
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketDistSlugs).Get(key(workspaceID, slug))
		if id == nil {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketDistributions), id, &d)
	})
	return d, err
}

// Distributions returns the distributions of a project (all of the
// workspace when projectID is empty), in slug order.
func (s *Store) Distributions(workspaceID, projectID string) ([]Distribution, error) {
	out := []Distribution{}
	err := s.db.View(func(tx *bolt.Tx) error {
		all, err := list[Distribution](tx, bucketDistributions, prefixed(tx.Bucket(bucketDistSlugs), workspaceID, false))
		for _, d := range all {
			if projectID == "" || d.ProjectID == projectID {
				out = append(out, d)
			}
		}
		return err
	})
	return out, err
}

// UpdateDistribution applies fn to a distribution and stores the result;
// its ID, workspace, project, count and creation stay. A changed slug moves
// its index entry (ErrConflict if taken).
func (s *Store) UpdateDistribution(id string, fn func(*Distribution) error) (Distribution, error) {
	var d Distribution
	err := s.db.Update(func(tx *bolt.Tx) error {
		dists := tx.Bucket(bucketDistributions)
		var orig Distribution
		if err := get(dists, []byte(id), &orig); err != nil {
			return err
		}
		d = orig
		if err := fn(&d); err != nil {
			return err
		}
		d.ID, d.WorkspaceID, d.ProjectID, d.AccessCount, d.CreatedAt, d.CreatedBy, d.Generation =
			orig.ID, orig.WorkspaceID, orig.ProjectID, orig.AccessCount, orig.CreatedAt, orig.CreatedBy, orig.Generation
		if d.Security != SecurityPassword {
			d.PasswordHash = ""
		}
		if d.Security != orig.Security || d.PasswordHash != orig.PasswordHash {
			d.Generation++
		}
		d.UpdatedAt = s.now().UTC()
		if err := d.valid(); err != nil {
			return err
		}
		if err := groupsExist(tx, d); err != nil {
			return err
		}
		if d.Slug != orig.Slug {
			slugs := tx.Bucket(bucketDistSlugs)
			k := key(d.WorkspaceID, d.Slug)
			if slugs.Get(k) != nil {
				return fmt.Errorf("distribution %q: %w", d.Slug, ErrConflict)
			}
			if err := slugs.Delete(key(d.WorkspaceID, orig.Slug)); err != nil {
				return err
			}
			if err := slugs.Put(k, []byte(d.ID)); err != nil {
				return err
			}
		}
		if err := put(dists, []byte(id), d); err != nil {
			return err
		}
		if diff := changes(orig, d, []string{"updatedAt", "generation"}, []string{"passwordHash"}); len(diff) > 0 {
			return s.record(tx, AuditDistributionChanged, distributionTarget(d), d.WorkspaceID, diff)
		}
		return nil
	})
	return d, err
}

// groupsExist checks that d's groups are its workspace's, and sorts them.
func groupsExist(tx *bolt.Tx, d Distribution) error {
	slugs := tx.Bucket(bucketTesterGroupSlugs)
	for _, g := range d.Groups {
		if slugs.Get(key(d.WorkspaceID, g)) == nil {
			return fmt.Errorf("%w: no tester group %q in this workspace", ErrInvalid, g)
		}
	}
	slices.Sort(d.Groups)
	return nil
}

func distributionTarget(d Distribution) AuditTarget {
	return AuditTarget{Kind: "distribution", ID: d.ID, Name: d.Slug}
}

// DeleteDistribution removes a distribution, its slug and its access log.
// It returns ErrNotFound if it does not exist.
func (s *Store) DeleteDistribution(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		dists := tx.Bucket(bucketDistributions)
		var d Distribution
		if err := get(dists, []byte(id), &d); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDistSlugs).Delete(key(d.WorkspaceID, d.Slug)); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket(bucketAccessLog), id); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket(bucketInstallIndex), installByDist(id)); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketNotifySent, bucketNotifyOptOut} {
			if err := deletePrefix(tx.Bucket(b), id); err != nil {
				return err
			}
		}
		if err := s.record(tx, AuditDistributionDeleted, distributionTarget(d), d.WorkspaceID, nil); err != nil {
			return err
		}
		return dists.Delete([]byte(id))
	})
}

// UseDistribution counts a download through a distribution and appends e
// to its access log, in one transaction shared with concurrent calls. It
// returns ErrNotFound if the distribution is gone.
func (s *Store) UseDistribution(id string, e AccessLogEntry) (Distribution, error) {
	var d Distribution
	err := s.group.do(func(tx *bolt.Tx) error {
		dists := tx.Bucket(bucketDistributions)
		if err := get(dists, []byte(id), &d); err != nil {
			return err
		}
		d.AccessCount++
		if err := put(dists, []byte(id), d); err != nil {
			return err
		}
		return s.appendAccess(tx, id, d.AccessCount, e)
	})
	return d, err
}
