package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Build statuses, as Applivery names them.
const (
	BuildPending    = "pending"
	BuildInProgress = "in_progress"
	BuildProcessed  = "processed"
	BuildError      = "error"
)

// File types, as Applivery names them.
const (
	FilePackage    = "package"
	FileAttachment = "attachment"
	FileIcon       = "icon"
	FileOriginal   = "original"
)

// Build is one upload of a project: a package and its attachments.
type Build struct {
	ID          string    `json:"id"`
	ProjectID   string    `json:"projectId"`
	Status      string    `json:"status"`
	VersionName string    `json:"versionName,omitempty"`
	VersionCode string    `json:"versionCode,omitempty"`
	BundleID    string    `json:"bundleId,omitempty"`
	Notes       string    `json:"notes,omitempty"` // Applivery's changelog
	Tags        []string  `json:"tags,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	// Seq orders builds by creation, even within one clock tick.
	Seq uint64 `json:"seq"`

	// What processing read from the package (empty until then, and for
	// files that are not packages).
	AppName   string        `json:"appName,omitempty"`
	OS        string        `json:"os,omitempty"` // ios, android, macos, windows
	MinOS     string        `json:"minOS,omitempty"`
	TargetSDK string        `json:"targetSdk,omitempty"`
	Profile   *Provisioning `json:"profile,omitempty"`
	// ProcessingError says why a build is in status error; ProcessingNotes
	// what processing could not read from a usable package.
	ProcessingError string   `json:"processingError,omitempty"`
	ProcessingNotes []string `json:"processingNotes,omitempty"`
}

// Provisioning is the provisioning profile an iOS build embeds.
type Provisioning struct {
	Name    string    `json:"name"`
	Team    string    `json:"team,omitempty"`
	TeamID  string    `json:"teamId,omitempty"`
	Expires time.Time `json:"expires"`
	Type    string    `json:"type"` // development, ad-hoc, enterprise, app-store
	Devices int       `json:"devices"`
}

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

// CreateBuild stores a new build of an existing project. An empty Status
// becomes BuildPending. It returns ErrNotFound if the project does not exist.
func (s *Store) CreateBuild(b Build) (Build, error) {
	b.ID = NewID()
	b.CreatedAt = s.now().UTC()
	if b.Status == "" {
		b.Status = BuildPending
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketProjects).Get([]byte(b.ProjectID)) == nil {
			return fmt.Errorf("project %s: %w", b.ProjectID, ErrNotFound)
		}
		var err error
		if b.Seq, err = tx.Bucket(bucketBuilds).NextSequence(); err != nil {
			return err
		}
		if err := tx.Bucket(bucketProjectBuilds).Put(buildIndexKey(b), nil); err != nil {
			return err
		}
		if b.Status == BuildInProgress {
			if err := tx.Bucket(bucketProcessing).Put(processingKey(b), []byte{0}); err != nil {
				return err
			}
		}
		return put(tx.Bucket(bucketBuilds), []byte(b.ID), b)
	})
	if err != nil {
		return Build{}, err
	}
	return b, nil
}

// buildIndexKey orders a project's builds by creation; fixed-width hex
// keeps byte order equal to numeric order.
func buildIndexKey(b Build) []byte {
	return key(b.ProjectID, fmt.Sprintf("%016x", b.Seq), b.ID)
}

// Build returns the build with the given ID, or ErrNotFound.
func (s *Store) Build(id string) (Build, error) {
	var b Build
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketBuilds), []byte(id), &b)
	})
	return b, err
}

// UpdateBuild applies fn to the stored build in one transaction. ID,
// ProjectID and CreatedAt cannot be changed. It returns ErrNotFound if the
// build does not exist, or fn's error (and changes nothing). A build whose
// status becomes in_progress joins the processing queue, one that leaves it
// leaves the queue, in the same transaction.
func (s *Store) UpdateBuild(id string, fn func(*Build) error) (Build, error) {
	var b Build
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		b, err = updateBuild(tx, id, fn)
		return err
	})
	return b, err
}

func updateBuild(tx *bolt.Tx, id string, fn func(*Build) error) (Build, error) {
	var b Build
	builds := tx.Bucket(bucketBuilds)
	if err := get(builds, []byte(id), &b); err != nil {
		return b, err
	}
	orig := b
	if err := fn(&b); err != nil {
		return b, err
	}
	b.ID, b.ProjectID, b.CreatedAt, b.Seq = orig.ID, orig.ProjectID, orig.CreatedAt, orig.Seq
	queue := tx.Bucket(bucketProcessing)
	var err error
	if b.Status == BuildInProgress {
		// Joining the queue, unless already in it (which would reset the
		// count of attempts).
		if k, _ := queue.Cursor().Seek(processingKey(b)); !bytes.Equal(k, processingKey(b)) {
			err = queue.Put(processingKey(b), []byte{0})
		}
	} else {
		err = queue.Delete(processingKey(b))
	}
	if err != nil {
		return b, err
	}
	return b, put(builds, []byte(id), b)
}

// processingKey orders the queue by upload, so that a restart picks work
// up in the order it came.
func processingKey(b Build) []byte {
	return []byte(fmt.Sprintf("%016x/%s", b.Seq, b.ID))
}

// ProcessingQueue returns the IDs of the builds in status in_progress,
// oldest first: the work a restart must pick up again.
func (s *Store) ProcessingQueue() ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProcessing).ForEach(func(k, _ []byte) error {
			_, id, _ := bytes.Cut(k, []byte("/"))
			ids = append(ids, string(id))
			return nil
		})
	})
	return ids, err
}

// BeginProcessing records that a worker starts reading build id's package
// and returns how many earlier attempts started without finishing: a
// crash (or a package that kills the process) leaves the count behind,
// FinishProcessing clears it with the queue entry. It is committed before
// the read starts. It returns ErrNotFound for a build that is not queued.
func (s *Store) BeginProcessing(id string) (earlier int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		var b Build
		if err := get(tx.Bucket(bucketBuilds), []byte(id), &b); err != nil {
			return err
		}
		queue, key := tx.Bucket(bucketProcessing), processingKey(b)
		k, v := queue.Cursor().Seek(key)
		if !bytes.Equal(k, key) {
			return fmt.Errorf("build %s is not queued: %w", id, ErrNotFound)
		}
		if len(v) > 0 {
			earlier = int(v[0])
		}
		return queue.Put(key, []byte{byte(min(earlier+1, 255))})
	})
	return earlier, err
}

// ErrNotInProgress is returned by FinishProcessing for a build that is no
// longer in_progress (another worker finished it).
var ErrNotInProgress = errors.New("build is not in progress")

// FinishProcessing records the outcome of processing a build in one
// transaction: fn sets the metadata and the final status, and icon, when
// not nil, is added as the build's file (its blob already stored). Icons
// count towards storageUsed but not against the quota: the build was
// accepted, and a few KiB the server made must not fail it. It returns
// ErrNotFound if the build was deleted meanwhile, ErrNotInProgress if it
// is not in_progress.
func (s *Store) FinishProcessing(id string, fn func(*Build), icon *File) (Build, File, error) {
	var (
		b Build
		f File
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		b, err = updateBuild(tx, id, func(b *Build) error {
			if b.Status != BuildInProgress {
				return fmt.Errorf("build %s is %s: %w", b.ID, b.Status, ErrNotInProgress)
			}
			fn(b)
			return nil
		})
		if err != nil || icon == nil {
			return err
		}
		f = *icon
		f.BuildID = id
		return s.addFile(tx, &f, false)
	})
	if err != nil {
		return Build{}, File{}, err
	}
	return b, f, nil
}

// Builds returns a page of a project's builds, newest first.
func (s *Store) Builds(projectID string, offset, limit int) ([]Build, error) {
	out := []Build{}
	err := s.db.View(func(tx *bolt.Tx) error {
		builds := tx.Bucket(bucketBuilds)
		var err error
		forEachPrefixReverse(tx.Bucket(bucketProjectBuilds), projectID, func(suffix, _ []byte) bool {
			if offset > 0 {
				offset--
				return true
			}
			if limit > 0 && len(out) == limit {
				return false
			}
			// suffix is seq/buildID
			_, id, _ := bytes.Cut(suffix, []byte("/"))
			var b Build
			if err = get(builds, id, &b); err != nil {
				err = fmt.Errorf("build index %q: %w", suffix, err)
				return false
			}
			out = append(out, b)
			return true
		})
		return err
	})
	return out, err
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

// addBlobRef changes a blob's reference count by delta and returns the new
// count; a count of zero removes the entry.
func addBlobRef(tx *bolt.Tx, checksum string, delta int64) error {
	refs := tx.Bucket(bucketBlobRefs)
	var n int64
	if v := refs.Get([]byte(checksum)); v != nil {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
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
		files := tx.Bucket(bucketFiles)
		var err error
		forEachPrefix(tx.Bucket(bucketBuildFiles), buildID, func(fileID, _ []byte) bool {
			var f File
			if err = get(files, fileID, &f); err != nil {
				return false
			}
			out = append(out, f)
			return true
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	// The index is ordered by random ID; callers want upload order.
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
		f, lastRef, err = deleteFile(tx, id)
		return err
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
	return f, lastRef, files.Delete([]byte(id))
}

// DeleteBuild deletes a build and all its files as DeleteFile does, in one
// transaction. It returns the deleted files and the checksums of the blobs
// that lost their last reference, for the caller to remove.
func (s *Store) DeleteBuild(id string) ([]File, []string, error) {
	var (
		deleted []File
		unused  []string
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		deleted, unused = nil, nil
		var b Build
		if err := get(tx.Bucket(bucketBuilds), []byte(id), &b); err != nil {
			return err
		}
		var ids []string
		forEachPrefix(tx.Bucket(bucketBuildFiles), id, func(fileID, _ []byte) bool {
			ids = append(ids, string(fileID))
			return true
		})
		for _, fid := range ids {
			f, last, err := deleteFile(tx, fid)
			if err != nil {
				return err
			}
			deleted = append(deleted, f)
			if last {
				unused = append(unused, f.Checksum)
			}
		}
		if err := tx.Bucket(bucketProjectBuilds).Delete(buildIndexKey(b)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketProcessing).Delete(processingKey(b)); err != nil {
			return err
		}
		return tx.Bucket(bucketBuilds).Delete([]byte(id))
	})
	return deleted, unused, err
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
}

// Audit reads everything fsck needs.
func (s *Store) Audit() (Audit, error) {
	a := Audit{Refs: map[string]int64{}, StorageUsed: map[string]int64{}, Slugs: map[string]string{}, Workspace: map[string]string{}}
	err := s.db.View(func(tx *bolt.Tx) error {
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
