package store

import (
	bolt "go.etcd.io/bbolt"
)

// Audit is the metadata fsck checks that is not per file (files are read
// a shard at a time by AuditShard), read in one transaction so that it is
// consistent. Its lists hold only what is wrong.
type Audit struct {
	StorageUsed map[string]int64  // workspace ID → stored storageUsed
	Slugs       map[string]string // workspace ID → slug, for reports
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
	// Files and Indexed count the file rows and the checksum index's
	// entries.
	Files, Indexed int
}

// Audit reads everything fsck needs besides the files.
func (s *Store) Audit() (Audit, error) {
	a := Audit{StorageUsed: map[string]int64{}, Slugs: map[string]string{}}
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
		a.Files, a.Indexed = indexCounts(tx)
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

// SetRefCounts overwrites the reference counts of the given blobs (0
// removes a count), in one transaction: fsck -repair, with the counts it
// found wrong.
func (s *Store) SetRefCounts(refs map[string]int64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBlobRefs)
		for sum, n := range refs {
			var err error
			if n > 0 {
				err = b.Put([]byte(sum), u64(uint64(n)))
			} else {
				err = b.Delete([]byte(sum))
			}
			if err != nil {
				return err
			}
		}
		// The blobs the repaired references name (counted by a cursor:
		// Stats does not see this transaction's changes).
		var n uint64
		for range keys(b) {
			n++
		}
		return tx.Bucket(bucketMeta).Put(countBlobs, u64(n))
	})
}

// SetStorageUsed overwrites the storageUsed of the given workspaces:
// fsck -repair.
func (s *Store) SetStorageUsed(used map[string]int64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		ws := tx.Bucket(bucketWorkspaces)
		for id, n := range used {
			var w Workspace
			if err := get(ws, []byte(id), &w); err != nil {
				return err
			}
			w.StorageUsed = n
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
