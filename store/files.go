package store

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// File types, as Applivery names them.
const (
	FilePackage    = "package"
	FileAttachment = "attachment"
	FileIcon       = "icon"
	FileOriginal   = "original"
)

// File is a stored file of a build. Its content is the blob named by Checksum.
type File struct {
	ID        string    `json:"id"`
	BuildID   string    `json:"buildId"`
	Type      string    `json:"type"`
	Name      string    `json:"name"` // original name, a base name without '/'
	Path      string    `json:"path"`
	Extension string    `json:"extension"`
	Size      int64     `json:"size"`
	MimeType  string    `json:"mimetype"`
	Checksum  string    `json:"checksum"` // SHA-256, lowercase hex: the blob's address
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Seq orders files by upload, even within one clock tick.
	Seq uint64 `json:"seq"`
}

// AddFile records a file whose blob (named by f.Checksum) is already stored.
// In one transaction it checks the build exists and the workspace's quota,
// adds f.Size to the workspace's storageUsed and one reference to the blob.
// It returns ErrNotFound if the build (or its project) does not exist,
// ErrQuotaExceeded if the workspace's quota would be exceeded, ErrInvalid for
// a negative size or a malformed checksum.
func (s *Store) AddFile(f File) (File, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return s.addFile(tx, &f, true)
	})
	if err != nil {
		return File{}, err
	}
	return f, nil
}

func (s *Store) addFile(tx *bolt.Tx, f *File, enforceQuota bool) error {
	if f.Size < 0 || !validChecksum(f.Checksum) {
		return fmt.Errorf("%w: file size %d, checksum %q", ErrInvalid, f.Size, f.Checksum)
	}
	f.ID = NewID()
	f.CreatedAt = s.now().UTC()
	f.UpdatedAt = f.CreatedAt
	if f.Path == "" {
		f.Path = f.Name
	}
	ws, err := workspaceOfBuild(tx, f.BuildID)
	if err != nil {
		return err
	}
	if enforceQuota && ws.StorageQuota > 0 && ws.StorageUsed+f.Size > ws.StorageQuota {
		return fmt.Errorf("%w: %d of %d bytes used, file is %d", ErrQuotaExceeded, ws.StorageUsed, ws.StorageQuota, f.Size)
	}
	ws.StorageUsed += f.Size
	if err := put(tx.Bucket(bucketWorkspaces), []byte(ws.ID), ws); err != nil {
		return err
	}
	if err := addBlobRef(tx, f.Checksum, 1); err != nil {
		return err
	}
	if err := tx.Bucket(bucketBuildFiles).Put(key(f.BuildID, f.ID), nil); err != nil {
		return err
	}
	files := tx.Bucket(bucketFiles)
	if err := tx.Bucket(bucketChecksumFiles).Put(checksumKey(*f), nil); err != nil {
		return err
	}
	if f.Seq, err = files.NextSequence(); err != nil {
		return err
	}
	return put(files, []byte(f.ID), *f)
}

func workspaceOfBuild(tx *bolt.Tx, buildID string) (Workspace, error) {
	var (
		b  Build
		p  Project
		ws Workspace
	)
	if err := get(tx.Bucket(bucketBuilds), []byte(buildID), &b); err != nil {
		return ws, fmt.Errorf("build %s: %w", buildID, err)
	}
	if err := get(tx.Bucket(bucketProjects), []byte(b.ProjectID), &p); err != nil {
		return ws, fmt.Errorf("project %s: %w", b.ProjectID, err)
	}
	if err := get(tx.Bucket(bucketWorkspaces), []byte(p.WorkspaceID), &ws); err != nil {
		return ws, fmt.Errorf("workspace %s: %w", p.WorkspaceID, err)
	}
	return ws, nil
}

func validChecksum(c string) bool {
	if len(c) != 64 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !('0' <= c[i] && c[i] <= '9' || 'a' <= c[i] && c[i] <= 'f') {
			return false
		}
	}
	return true
}

// addBlobRef changes a blob's reference count by delta; a count of zero
// removes the entry, and one below zero is an error (a bug, not a state).
func addBlobRef(tx *bolt.Tx, checksum string, delta int64) error {
	refs := tx.Bucket(bucketBlobRefs)
	var n int64
	if v := refs.Get([]byte(checksum)); v != nil {
		n = int64(binary.BigEndian.Uint64(v))
	}
	before := n
	n += delta
	switch {
	case before == 0 && n > 0:
		if err := addCount(tx, countBlobs, 1); err != nil {
			return err
		}
	case before > 0 && n == 0:
		if err := addCount(tx, countBlobs, -1); err != nil {
			return err
		}
	}
	switch {
	case n < 0:
		return fmt.Errorf("blob %s: reference count would be %d", checksum, n)
	case n == 0:
		return refs.Delete([]byte(checksum))
	default:
		return refs.Put([]byte(checksum), u64(uint64(n)))
	}
}

// File returns the file with the given ID, or ErrNotFound.
func (s *Store) File(id string) (File, error) {
	var f File
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketFiles), []byte(id), &f)
	})
	return f, err
}

// Files returns a build's files, oldest first.
func (s *Store) Files(buildID string) ([]File, error) {
	var out []File
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = filesOf(tx, buildID)
		return err
	})
	return out, err
}

// filesOf reads a build's files in upload order (the index is ordered by
// random ID).
func filesOf(tx *bolt.Tx, buildID string) ([]File, error) {
	out, err := list[File](tx, bucketFiles, prefixed(tx.Bucket(bucketBuildFiles), buildID, true))
	if err != nil {
		return nil, err
	}
	sortFiles(out)
	return out, nil
}

// DeleteFile removes a file, deactivates its public links (they stay
// readable with their access logs), drops one reference to its blob and
// subtracts its size from the workspace's storageUsed, in one transaction.
// It returns the deleted file and whether that was the blob's last
// reference: only then may the caller remove the blob (with
// blob.Store.RemoveUnused and BlobInUse, after this returns).
func (s *Store) DeleteFile(id string) (File, bool, error) {
	var (
		f       File
		lastRef bool
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if f, lastRef, err = deleteFile(tx, id); err != nil {
			return err
		}
		ws, err := workspaceOfBuild(tx, f.BuildID)
		if err != nil {
			return err
		}
		return s.record(tx, AuditFileDeleted, AuditTarget{Kind: "file", ID: f.ID, Name: f.Name}, ws.ID,
			map[string]any{"build": f.BuildID, "size": f.Size})
	})
	return f, lastRef, err
}

func deleteFile(tx *bolt.Tx, id string) (File, bool, error) {
	var f File
	files := tx.Bucket(bucketFiles)
	if err := get(files, []byte(id), &f); err != nil {
		return f, false, err
	}
	ws, err := workspaceOfBuild(tx, f.BuildID)
	if err != nil {
		return f, false, err
	}
	ws.StorageUsed = max(ws.StorageUsed-f.Size, 0)
	if err := put(tx.Bucket(bucketWorkspaces), []byte(ws.ID), ws); err != nil {
		return f, false, err
	}
	if err := addBlobRef(tx, f.Checksum, -1); err != nil {
		return f, false, err
	}
	lastRef := tx.Bucket(bucketBlobRefs).Get([]byte(f.Checksum)) == nil
	if err := deactivateLinksOfFile(tx, id); err != nil {
		return f, false, err
	}
	if err := tx.Bucket(bucketBuildFiles).Delete(key(f.BuildID, id)); err != nil {
		return f, false, err
	}
	if err := tx.Bucket(bucketChecksumFiles).Delete(checksumKey(f)); err != nil {
		return f, false, err
	}
	return f, lastRef, files.Delete([]byte(id))
}

// BlobInUse reports whether any file refers to the blob with this checksum.
func (s *Store) BlobInUse(checksum string) (bool, error) {
	n, err := s.BlobRefCount(checksum)
	return n > 0, err
}

// BlobRefCount returns how many files refer to the blob with this checksum.
func (s *Store) BlobRefCount(checksum string) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketBlobRefs).Get([]byte(checksum)); v != nil {
			n = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n, err
}

func sortFiles(fs []File) {
	slices.SortFunc(fs, func(a, b File) int { return cmp.Compare(a.Seq, b.Seq) })
}
