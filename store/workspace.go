package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Workspace is the top level of the model (Applivery's organization).
type Workspace struct {
	ID           string    `json:"id"`
	Slug         string    `json:"slug"`
	Name         string    `json:"name"`
	StorageUsed  int64     `json:"storageUsed"`  // bytes: sum of its files' sizes
	StorageQuota int64     `json:"storageQuota"` // bytes; 0 = none
	CreatedAt    time.Time `json:"createdAt"`
}

// Project belongs to a workspace (Applivery's app).
type Project struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspaceId"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Platform    string    `json:"platform"`
	CreatedAt   time.Time `json:"createdAt"`
	// Retention overrides the configured defaults when set.
	Retention *Retention `json:"retention,omitempty"`
}

// Retention says which builds of a project to keep: the newest KeepBuilds
// (0: all) and those younger than MaxAgeSeconds (0: any age).
type Retention struct {
	KeepBuilds    int   `json:"keepBuilds"`
	MaxAgeSeconds int64 `json:"maxAgeSeconds"`
}

// ValidSlug reports whether s can be a workspace or project slug: 1 to 63
// lowercase letters, digits and inner dashes. Slugs appear in URLs and in
// index keys, so nothing else is allowed.
func ValidSlug(s string) bool { return validSlug(s, 63) }

func validSlug(s string, max int) bool {
	if len(s) == 0 || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// CreateWorkspace stores a new workspace and returns it with its ID set. It
// returns ErrInvalid for a bad slug or negative quota, ErrConflict if the slug
// is taken.
func (s *Store) CreateWorkspace(w Workspace) (Workspace, error) {
	if !ValidSlug(w.Slug) || w.StorageQuota < 0 {
		return Workspace{}, fmt.Errorf("%w: workspace slug %q", ErrInvalid, w.Slug)
	}
	w.ID = NewID()
	w.StorageUsed = 0
	w.CreatedAt = s.now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		slugs := tx.Bucket(bucketWorkspaceSlug)
		if slugs.Get([]byte(w.Slug)) != nil {
			return fmt.Errorf("workspace %q: %w", w.Slug, ErrConflict)
		}
		if err := slugs.Put([]byte(w.Slug), []byte(w.ID)); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketWorkspaces), []byte(w.ID), w); err != nil {
			return err
		}
		return s.record(tx, AuditWorkspaceCreated, AuditTarget{Kind: "workspace", ID: w.ID, Name: w.Slug}, w.ID,
			map[string]any{"storageQuota": w.StorageQuota})
	})
	if err != nil {
		return Workspace{}, err
	}
	return w, nil
}

// Workspace returns the workspace with the given ID, or ErrNotFound.
func (s *Store) Workspace(id string) (Workspace, error) {
	var w Workspace
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketWorkspaces), []byte(id), &w)
	})
	return w, err
}

// WorkspaceBySlug returns the workspace with the given slug, or ErrNotFound.
func (s *Store) WorkspaceBySlug(slug string) (Workspace, error) {
	var w Workspace
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketWorkspaceSlug).Get([]byte(slug))
		if id == nil {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketWorkspaces), id, &w)
	})
	return w, err
}

// UpdateWorkspace applies fn to the stored workspace in one transaction. Only
// Name and StorageQuota may change. It returns ErrNotFound for an unknown
// workspace, ErrInvalid for a negative quota, or fn's error.
func (s *Store) UpdateWorkspace(id string, fn func(*Workspace) error) (Workspace, error) {
	var w Workspace
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWorkspaces)
		if err := get(b, []byte(id), &w); err != nil {
			return err
		}
		orig := w
		if err := fn(&w); err != nil {
			return err
		}
		if w.StorageQuota < 0 {
			return fmt.Errorf("%w: storage quota %d", ErrInvalid, w.StorageQuota)
		}
		name, quota := w.Name, w.StorageQuota
		w = orig
		w.Name, w.StorageQuota = name, quota
		if err := put(b, []byte(id), w); err != nil {
			return err
		}
		if diff := changes(orig, w, []string{"storageUsed"}, nil); len(diff) > 0 {
			return s.record(tx, AuditWorkspaceChanged, AuditTarget{Kind: "workspace", ID: w.ID, Name: w.Slug}, w.ID, diff)
		}
		return nil
	})
	return w, err
}

// Workspaces returns every workspace, ordered by slug.
func (s *Store) Workspaces() ([]Workspace, error) {
	var out []Workspace
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[Workspace](tx, bucketWorkspaces, values(tx.Bucket(bucketWorkspaceSlug)))
		return err
	})
	return out, err
}

// CreateProject stores a new project in an existing workspace. It returns
// ErrNotFound if the workspace does not exist, ErrInvalid for a bad slug and
// ErrConflict if the slug is taken in that workspace.
func (s *Store) CreateProject(p Project) (Project, error) {
	if !ValidSlug(p.Slug) {
		return Project{}, fmt.Errorf("%w: project slug %q", ErrInvalid, p.Slug)
	}
	p.ID = NewID()
	p.CreatedAt = s.now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketWorkspaces).Get([]byte(p.WorkspaceID)) == nil {
			return fmt.Errorf("workspace %s: %w", p.WorkspaceID, ErrNotFound)
		}
		slugs := tx.Bucket(bucketProjectSlug)
		k := key(p.WorkspaceID, p.Slug)
		if slugs.Get(k) != nil {
			return fmt.Errorf("project %q: %w", p.Slug, ErrConflict)
		}
		if err := slugs.Put(k, []byte(p.ID)); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketProjects), []byte(p.ID), p); err != nil {
			return err
		}
		return s.record(tx, AuditProjectCreated, projectTarget(p), p.WorkspaceID, map[string]any{"platform": p.Platform})
	})
	if err != nil {
		return Project{}, err
	}
	return p, nil
}

// Project returns the project with the given ID, or ErrNotFound.
func (s *Store) Project(id string) (Project, error) {
	var p Project
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketProjects), []byte(id), &p)
	})
	return p, err
}

// ProjectBySlug returns the project with the given slug in a workspace, or
// ErrNotFound.
func (s *Store) ProjectBySlug(workspaceID, slug string) (Project, error) {
	var p Project
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketProjectSlug).Get(key(workspaceID, slug))
		if id == nil {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketProjects), id, &p)
	})
	return p, err
}

// UpdateProject applies fn to the stored project in one transaction; only
// Name, Platform and Retention may change. It returns ErrNotFound for an
// unknown project, or fn's error.
func (s *Store) UpdateProject(id string, fn func(*Project) error) (Project, error) {
	var p Project
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProjects)
		if err := get(b, []byte(id), &p); err != nil {
			return err
		}
		orig := p
		if err := fn(&p); err != nil {
			return err
		}
		p.ID, p.WorkspaceID, p.Slug, p.CreatedAt = orig.ID, orig.WorkspaceID, orig.Slug, orig.CreatedAt
		if err := put(b, []byte(id), p); err != nil {
			return err
		}
		if diff := changes(orig, p, nil, nil); len(diff) > 0 {
			return s.record(tx, AuditProjectChanged, projectTarget(p), p.WorkspaceID, diff)
		}
		return nil
	})
	return p, err
}

// AllProjects returns every project of every workspace.
func (s *Store) AllProjects() ([]Project, error) {
	var out []Project
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[Project](tx, bucketProjects, keys(tx.Bucket(bucketProjects)))
		return err
	})
	return out, err
}

// Projects returns the projects of a workspace, ordered by slug.
func (s *Store) Projects(workspaceID string) ([]Project, error) {
	var out []Project
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[Project](tx, bucketProjects, prefixed(tx.Bucket(bucketProjectSlug), workspaceID, false))
		return err
	})
	return out, err
}

func projectTarget(p Project) AuditTarget {
	return AuditTarget{Kind: "project", ID: p.ID, Name: p.Slug}
}
