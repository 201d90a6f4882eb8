package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tester groups: the people a workspace distributes to, by e-mail address
// (a tester needs no account; a user is a member by their address).

// Bounds of tester groups.
const (
	MaxTesterGroups  = 200  // per workspace
	MaxGroupMembers  = 5000 // per group
	MaxGroupNameLen  = 100
	maxAuditAddrList = 50 // addresses named in one audit entry
)

// TesterGroup is a named set of addresses in a workspace.
type TesterGroup struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspaceId"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Members     []string  `json:"members"` // addresses, lower case, sorted
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func testerGroupTarget(g TesterGroup) AuditTarget {
	return AuditTarget{Kind: "tester_group", ID: g.ID, Name: g.Slug}
}

// normalMembers lower-cases, sorts and de-duplicates addresses (checked
// by the caller).
func normalMembers(ms []string) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, strings.ToLower(strings.TrimSpace(m)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CreateTesterGroup stores a new group: ErrInvalid for a bad slug or name
// or too many members or groups, ErrConflict for a slug taken in the
// workspace.
func (s *Store) CreateTesterGroup(g TesterGroup) (TesterGroup, error) {
	g.Members = normalMembers(g.Members)
	switch {
	case !ValidSlug(g.Slug):
		return TesterGroup{}, fmt.Errorf("%w: tester group slug %q", ErrInvalid, g.Slug)
	case len(g.Name) > MaxGroupNameLen || strings.ContainsAny(g.Name, "\r\n"):
		return TesterGroup{}, fmt.Errorf("%w: a group's name is one line of at most %d bytes", ErrInvalid, MaxGroupNameLen)
	case len(g.Members) > MaxGroupMembers:
		return TesterGroup{}, fmt.Errorf("%w: a group has at most %d members", ErrInvalid, MaxGroupMembers)
	}
	now := s.now().UTC()
	g.ID, g.CreatedAt, g.UpdatedAt = NewID(), now, now
	if g.Name == "" {
		g.Name = g.Slug
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketWorkspaces).Get([]byte(g.WorkspaceID)) == nil {
			return fmt.Errorf("workspace %s: %w", g.WorkspaceID, ErrNotFound)
		}
		slugs := tx.Bucket(bucketTesterGroupSlugs)
		if countPrefix(slugs, g.WorkspaceID) >= MaxTesterGroups {
			return fmt.Errorf("%w: a workspace has at most %d tester groups", ErrInvalid, MaxTesterGroups)
		}
		k := key(g.WorkspaceID, g.Slug)
		if slugs.Get(k) != nil {
			return fmt.Errorf("tester group %q: %w", g.Slug, ErrConflict)
		}
		if err := slugs.Put(k, []byte(g.ID)); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketTesterGroups), []byte(g.ID), g); err != nil {
			return err
		}
		if err := indexMembers(tx, g, g.Members, nil); err != nil {
			return err
		}
		return s.record(tx, AuditTesterGroupCreated, testerGroupTarget(g), g.WorkspaceID,
			map[string]any{"name": g.Name, "members": len(g.Members), "added": firstAddrs(g.Members)})
	})
	if err != nil {
		return TesterGroup{}, err
	}
	return g, nil
}

func firstAddrs(ms []string) []string {
	if len(ms) > maxAuditAddrList {
		return ms[:maxAuditAddrList]
	}
	return ms
}

// TesterGroups returns a workspace's groups, by slug.
func (s *Store) TesterGroups(workspaceID string) ([]TesterGroup, error) {
	out := []TesterGroup{}
	err := s.db.View(func(tx *bolt.Tx) error {
		gs, err := list[TesterGroup](tx, bucketTesterGroups, prefixed(tx.Bucket(bucketTesterGroupSlugs), workspaceID, false))
		out = append(out, gs...)
		return err
	})
	return out, err
}

// TesterGroupBySlug returns a workspace's group, or ErrNotFound.
func (s *Store) TesterGroupBySlug(workspaceID, slug string) (TesterGroup, error) {
	var g TesterGroup
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTesterGroupSlugs).Get(key(workspaceID, slug))
		if id == nil {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketTesterGroups), id, &g)
	})
	return g, err
}

// UpdateTesterGroup renames a group (name "": unchanged) and adds and
// removes members, in one transaction, recording who was added and
// removed.
func (s *Store) UpdateTesterGroup(id, name string, add, remove []string) (TesterGroup, error) {
	var g TesterGroup
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTesterGroups)
		if err := get(b, []byte(id), &g); err != nil {
			return err
		}
		before := g
		if name != "" {
			if len(name) > MaxGroupNameLen || strings.ContainsAny(name, "\r\n") {
				return fmt.Errorf("%w: a group's name is one line of at most %d bytes", ErrInvalid, MaxGroupNameLen)
			}
			g.Name = name
		}
		have := map[string]bool{}
		for _, m := range g.Members {
			have[m] = true
		}
		var added, removed []string
		for _, m := range normalMembers(add) {
			if !have[m] {
				have[m], added = true, append(added, m)
			}
		}
		for _, m := range normalMembers(remove) {
			if have[m] {
				delete(have, m)
				removed = append(removed, m)
			}
		}
		if len(have) > MaxGroupMembers {
			return fmt.Errorf("%w: a group has at most %d members", ErrInvalid, MaxGroupMembers)
		}
		g.Members = g.Members[:0:0]
		for m := range have {
			g.Members = append(g.Members, m)
		}
		slices.Sort(g.Members)
		if g.Name == before.Name && len(added) == 0 && len(removed) == 0 {
			return nil
		}
		g.UpdatedAt = s.now().UTC()
		if err := put(b, []byte(id), g); err != nil {
			return err
		}
		if err := indexMembers(tx, g, added, removed); err != nil {
			return err
		}
		details := map[string]any{"members": []int{len(before.Members), len(g.Members)}}
		if g.Name != before.Name {
			details["name"] = []string{before.Name, g.Name}
		}
		if len(added) > 0 {
			details["added"] = firstAddrs(added)
		}
		if len(removed) > 0 {
			details["removed"] = firstAddrs(removed)
		}
		return s.record(tx, AuditTesterGroupChanged, testerGroupTarget(g), g.WorkspaceID, details)
	})
	return g, err
}

// DeleteTesterGroup removes a group, and its name from the
// distributions for it (whose testers lose access at once; a new group of
// the same slug is not given them).
func (s *Store) DeleteTesterGroup(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTesterGroups)
		var g TesterGroup
		if err := get(b, []byte(id), &g); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTesterGroupSlugs).Delete(key(g.WorkspaceID, g.Slug)); err != nil {
			return err
		}
		if err := indexMembers(tx, g, nil, g.Members); err != nil {
			return err
		}
		dists := tx.Bucket(bucketDistributions)
		ds, err := list[Distribution](tx, bucketDistributions, prefixed(tx.Bucket(bucketDistSlugs), g.WorkspaceID, false))
		if err != nil {
			return err
		}
		for _, d := range ds {
			if i := slices.Index(d.Groups, g.Slug); i >= 0 {
				d.Groups = slices.Delete(d.Groups, i, i+1)
				if err := put(dists, []byte(d.ID), d); err != nil {
					return err
				}
			}
		}
		if err := s.record(tx, AuditTesterGroupDeleted, testerGroupTarget(g), g.WorkspaceID, map[string]any{"members": len(g.Members)}); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
}

// indexMembers keeps the index of addresses to groups (testerAddrKey).
func indexMembers(tx *bolt.Tx, g TesterGroup, added, removed []string) error {
	idx := tx.Bucket(bucketTesterAddrs)
	for _, m := range added {
		if err := idx.Put(testerAddrKey(m, g.WorkspaceID, g.Slug), nil); err != nil {
			return err
		}
	}
	for _, m := range removed {
		if err := idx.Delete(testerAddrKey(m, g.WorkspaceID, g.Slug)); err != nil {
			return err
		}
	}
	return nil
}

// Schema 7: the index of addresses to tester groups.
func indexTesterGroups(tx *bolt.Tx) error {
	b := tx.Bucket(bucketTesterGroups)
	return b.ForEach(func(k, _ []byte) error {
		var g TesterGroup
		if err := get(b, k, &g); err != nil {
			return err
		}
		return indexMembers(tx, g, g.Members, nil)
	})
}
