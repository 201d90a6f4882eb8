package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Audit is the metadata fsck checks against the blob directory, read in
// one transaction so that it is consistent.
type Audit struct {
	Files       []File
	Refs        map[string]int64  // blob checksum → stored reference count
	StorageUsed map[string]int64  // workspace ID → stored storageUsed
	Slugs       map[string]string // workspace ID → slug, for reports
	Workspace   map[string]string // file ID → its workspace ID
	// DanglingLinks are active links whose file is gone (deleting a file
	// deactivates its links, so this takes damage from elsewhere).
	DanglingLinks []string
	// OrphanTokens are the prefixes of API tokens whose owner is gone.
	OrphanTokens []string
	// Counts are the maintained totals, CountsFound what they should be.
	Counts, CountsFound Counts
	// BuildCountsWrong says the counted build index (which finds a page by
	// number) disagrees with the builds it counts.
	BuildCountsWrong bool
}

// Audit reads everything fsck needs.
func (s *Store) Audit() (Audit, error) {
	a := Audit{Refs: map[string]int64{}, StorageUsed: map[string]int64{}, Slugs: map[string]string{}, Workspace: map[string]string{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		a.Counts = Counts{LinksActive: readCount(meta, countLinksActive), LinkDownloads: readCount(meta, countLinkDownloads), Blobs: readCount(meta, countBlobs)}
		var err error
		if a.CountsFound, err = scanCounts(tx); err != nil {
			return err
		}
		match, err := ranksMatch(tx)
		if err != nil {
			return err
		}
		a.BuildCountsWrong = !match
		if err := tx.Bucket(bucketBlobRefs).ForEach(func(k, v []byte) error {
			a.Refs[string(k)] = int64(binary.BigEndian.Uint64(v))
			return nil
		}); err != nil {
			return err
		}
		ws := tx.Bucket(bucketWorkspaces)
		if err := ws.ForEach(func(k, _ []byte) error {
			var w Workspace
			if err := get(ws, k, &w); err != nil {
				return err
			}
			a.StorageUsed[w.ID], a.Slugs[w.ID] = w.StorageUsed, w.Slug
			return nil
		}); err != nil {
			return err
		}
		files := tx.Bucket(bucketFiles)
		if err := files.ForEach(func(k, _ []byte) error {
			var f File
			if err := get(files, k, &f); err != nil {
				return err
			}
			w, err := workspaceOfBuild(tx, f.BuildID)
			if err != nil {
				return fmt.Errorf("file %s: %w", f.ID, err)
			}
			a.Files = append(a.Files, f)
			a.Workspace[f.ID] = w.ID
			return nil
		}); err != nil {
			return err
		}
		links := tx.Bucket(bucketLinks)
		if err := links.ForEach(func(k, _ []byte) error {
			var l PublicLink
			if err := get(links, k, &l); err != nil {
				return err
			}
			if l.IsActive && files.Get([]byte(l.FileID)) == nil {
				a.DanglingLinks = append(a.DanglingLinks, l.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		owners := map[string][]byte{TokenSession: bucketUsers, TokenServiceAccount: bucketServiceAccts, TokenApp: bucketProjects}
		tokens := tx.Bucket(bucketTokens)
		return tokens.ForEach(func(k, _ []byte) error {
			var t Token
			if err := get(tokens, k, &t); err != nil {
				return err
			}
			if b, ok := owners[t.Kind]; !ok || tx.Bucket(b).Get([]byte(t.OwnerID)) == nil {
				a.OrphanTokens = append(a.OrphanTokens, t.Prefix)
			}
			return nil
		})
	})
	return a, err
}

// SetCounts overwrites blob reference counts and workspaces' storageUsed
// with the given values, in one transaction: fsck --repair. Checksums absent
// from refs lose their count.
func (s *Store) SetCounts(refs map[string]int64, storageUsed map[string]int64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBlobRefs)
		var stale [][]byte
		b.ForEach(func(k, _ []byte) error {
			if refs[string(k)] <= 0 {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for sum, n := range refs {
			if n > 0 {
				if err := b.Put([]byte(sum), u64(uint64(n))); err != nil {
					return err
				}
			}
		}
		var n uint64
		for _, c := range refs {
			if c > 0 {
				n++
			}
		}
		if err := tx.Bucket(bucketMeta).Put(countBlobs, u64(n)); err != nil { // the blobs the repaired references name
			return err
		}
		ws := tx.Bucket(bucketWorkspaces)
		for id, used := range storageUsed {
			var w Workspace
			if err := get(ws, []byte(id), &w); err != nil {
				return err
			}
			w.StorageUsed = used
			if err := put(ws, []byte(id), w); err != nil {
				return err
			}
		}
		return nil
	})
}

// RepairCounts sets the maintained totals and the counted build index from
// a scan of what they count.
func (s *Store) RepairCounts() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c, err := scanCounts(tx)
		if err != nil {
			return err
		}
		if err := setCounts(tx, c); err != nil {
			return err
		}
		return rebuildRanks(tx)
	})
}
