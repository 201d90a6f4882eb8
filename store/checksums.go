package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"hangar/pace"
)

// Files are indexed by checksum (checksum_files: checksum/fileID), so that
// fsck can take the files of one range of checksums at a time beside the
// blobs of the same range, in memory that does not grow with the files.

func checksumKey(f File) []byte { return key(f.Checksum, f.ID) }

// ShardAudit is what fsck compares with one shard of the blob directory:
// the files whose checksum starts with the shard's two hex digits, and the
// reference counts stored for those checksums.
type ShardAudit struct {
	Files []FileAudit
	Refs  map[string]int64 // checksum → stored reference count
	// BadIndex are checksum index entries that name no file, or a file
	// with another checksum.
	BadIndex []string
}

// FileAudit is a file with the workspace it counts against.
type FileAudit struct {
	File
	WorkspaceID string
}

// AuditShard reads one shard (see ShardAudit) in one read transaction.
// projects caches project → workspace across calls.
func (s *Store) AuditShard(shard string, projects map[string]string) (ShardAudit, error) {
	a := ShardAudit{Refs: map[string]int64{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		files, builds, projs := tx.Bucket(bucketFiles), tx.Bucket(bucketBuilds), tx.Bucket(bucketProjects)
		c := tx.Bucket(bucketChecksumFiles).Cursor()
		p := []byte(shard)
		var w pace.Worker
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			w.Step()
			sum, id, _ := bytes.Cut(k, []byte("/"))
			var f File
			if err := get(files, id, &f); err != nil || f.Checksum != string(sum) {
				a.BadIndex = append(a.BadIndex, string(k))
				continue
			}
			var b Build
			if err := get(builds, []byte(f.BuildID), &b); err != nil {
				return fmt.Errorf("file %s: build %s: %w", f.ID, f.BuildID, err)
			}
			ws, ok := projects[b.ProjectID]
			if !ok {
				var pr Project
				if err := get(projs, []byte(b.ProjectID), &pr); err != nil {
					return fmt.Errorf("file %s: project %s: %w", f.ID, b.ProjectID, err)
				}
				ws, projects[b.ProjectID] = pr.WorkspaceID, pr.WorkspaceID
			}
			a.Files = append(a.Files, FileAudit{File: f, WorkspaceID: ws})
		}
		rc := tx.Bucket(bucketBlobRefs).Cursor()
		for k, v := rc.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = rc.Next() {
			a.Refs[string(k)] = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return a, err
}

// indexCounts counts the file rows and the checksum index entries: when
// they are equal and every entry names a file with its checksum (which
// AuditShard checks), each file is indexed once.
func indexCounts(tx *bolt.Tx) (files, indexed int) {
	return tx.Bucket(bucketFiles).Stats().KeyN, tx.Bucket(bucketChecksumFiles).Stats().KeyN
}

// rebuildChecksumIndex sets checksum_files from the file rows.
func rebuildChecksumIndex(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(bucketChecksumFiles); err != nil {
		return err
	}
	idx, err := tx.CreateBucket(bucketChecksumFiles)
	if err != nil {
		return err
	}
	// Inserted in key order: bbolt splits nodes only at commit, so random
	// keys into the new (empty) bucket would each shift one ever-growing
	// node (15 s for 100,000 files); sorted, each is an append. The keys are
	// held meanwhile (about 100 MB for a million files, once, at upgrade).
	files := tx.Bucket(bucketFiles)
	var keys []string
	if err := files.ForEach(func(k, _ []byte) error {
		var f File
		if err := get(files, k, &f); err != nil {
			return err
		}
		keys = append(keys, string(checksumKey(f)))
		return nil
	}); err != nil {
		return err
	}
	slices.Sort(keys)
	idx.FillPercent = 0.9
	for _, k := range keys {
		if err := idx.Put([]byte(k), nil); err != nil {
			return err
		}
	}
	return nil
}

// RebuildChecksumIndex rebuilds the checksum index from the file rows:
// fsck -repair, when the index disagrees with them.
func (s *Store) RebuildChecksumIndex() error {
	return s.db.Update(rebuildChecksumIndex)
}

// maxContentLookups bounds how many files with one checksum
// ProjectHoldsContent looks at: content shared by many projects is then
// sent again rather than searched for.
const maxContentLookups = 64

// ProjectHoldsContent reports whether a file of the project of build
// buildID has checksum and size: then that project's uploaders already
// hold the content, and a new file may take it without its bytes being
// sent again.
func (s *Store) ProjectHoldsContent(buildID, checksum string, size int64) (bool, error) {
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		builds, files := tx.Bucket(bucketBuilds), tx.Bucket(bucketFiles)
		var b Build
		if err := get(builds, []byte(buildID), &b); err != nil {
			return err
		}
		n := 0
		var err error
		forEachPrefix(tx.Bucket(bucketChecksumFiles), checksum, func(fileID, _ []byte) bool {
			var f File
			var fb Build
			if err = get(files, fileID, &f); err != nil {
				return false
			}
			if f.Size == size {
				if err = get(builds, []byte(f.BuildID), &fb); err != nil {
					return false
				}
				found = fb.ProjectID == b.ProjectID
			}
			n++
			return !found && n < maxContentLookups
		})
		return err
	})
	return found, err
}

// LikelyCopy looks through a project's maxLikeBuilds newest builds and at
// most maxLikeFiles of their file rows: a build with thousands of
// attachments must not make every upload of its project read them all.
const (
	maxLikeBuilds = 16
	maxLikeFiles  = 256
)

// LikelyCopy guesses which stored content a new file of build buildID is
// a copy of, as when a CI job is run again: the checksum of the newest file
// named name (and of size bytes, unless size < 0) among the newest
// builds of the same project, "" if there is none. Only a guess: the
// caller compares the bytes.
func (s *Store) LikelyCopy(buildID, name string, size int64) (string, error) {
	var sum string
	err := s.db.View(func(tx *bolt.Tx) error {
		builds, files := tx.Bucket(bucketBuilds), tx.Bucket(bucketFiles)
		var b Build
		if err := get(builds, []byte(buildID), &b); err != nil {
			return err
		}
		prefix := key(b.ProjectID, "")
		c := tx.Bucket(bucketProjectBuilds).Cursor()
		k, _ := c.Seek(append(bytes.Clone(prefix), 0xff))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		var err error
		read := 0
		for n := 0; k != nil && bytes.HasPrefix(k, prefix) && n < maxLikeBuilds && sum == "" && err == nil && read < maxLikeFiles; n++ {
			_, id, _ := bytes.Cut(k[len(prefix):], []byte("/"))
			forEachPrefix(tx.Bucket(bucketBuildFiles), string(id), func(fileID, _ []byte) bool {
				if read++; read > maxLikeFiles {
					return false
				}
				var f File
				if err = get(files, fileID, &f); err != nil {
					return false
				}
				if f.Name == name && (size < 0 || f.Size == size) {
					sum = f.Checksum
					return false
				}
				return true
			})
			k, _ = c.Prev()
		}
		return err
	})
	return sum, err
}
