package store

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// App Center's release uploads: a release upload is made, its package is
// sent to the upload domain in numbered blocks (kept in the blob
// backend's staging area, see blob.Staging; this record says which have
// arrived), the client says it is finished, and the package becomes a
// build, whose sequence number is the release's integer ID. The record
// outlives a restart between blocks; an abandoned one expires.

// Release upload states, as App Center names them.
const (
	UploadStarted  = "uploadStarted"
	UploadFinished = "uploadFinished"
	UploadReady    = "readyToBePublished"
	UploadError    = "error"
)

// Release upload bounds.
const (
	ReleaseUploadTTL      = 24 * time.Hour
	MaxReleaseUploads     = 1000 // waiting at once, on the instance
	MaxUploadsPerUploader = 10   // unfinished at once, per token owner
	MaxUploadChunks       = 10000
)

// ReleaseUpload is one upload, from its creation to its build.
type ReleaseUpload struct {
	ID      string `json:"id"`      // a UUID
	AssetID string `json:"assetId"` // a UUID, the upload domain's name of the file
	// Symbols: an upload of symbols (a dSYM, a mapping) for a build's
	// attachments, in one PUT, not a release.
	Symbols   bool   `json:"symbols,omitempty"`
	TokenHash []byte `json:"tokenHash"`
	// CreatorToken is the hash of the API token that made the upload:
	// the upload's own token works only while that one could make it
	// (empty for uploads made before it was kept).
	CreatorToken []byte `json:"creatorToken,omitempty"`
	ProjectID    string `json:"projectId"`
	WorkspaceID  string `json:"workspaceId"`
	Uploader     string `json:"uploader"` // the token's owner, for the per-uploader bound
	CreatedBy    string `json:"createdBy"`
	// What the client said of the build (build_version, build_number).
	BuildVersion string `json:"buildVersion,omitempty"`
	BuildNumber  string `json:"buildNumber,omitempty"`
	// set_metadata: the file, and how it is cut.
	FileName    string `json:"fileName,omitempty"`
	FileSize    int64  `json:"fileSize,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	ChunkSize   int64  `json:"chunkSize,omitempty"`
	Chunks      int    `json:"chunks,omitempty"`
	Received    []int  `json:"received,omitempty"` // block numbers, sorted
	// Done: the upload domain has every block (finished).
	Done      bool      `json:"done,omitempty"`
	Status    string    `json:"status"`
	BuildID   string    `json:"buildId,omitempty"`
	ReleaseID uint64    `json:"releaseId,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Missing returns the blocks not yet received.
func (u ReleaseUpload) Missing() []int {
	var out []int
	for n := 1; n <= u.Chunks; n++ {
		if _, ok := slices.BinarySearch(u.Received, n); !ok {
			out = append(out, n)
		}
	}
	return out
}

// NewUUID returns a random (version 4) UUID, as App Center's IDs are.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// CreateReleaseUpload stores a new upload and returns its token (only its
// hash is kept). ErrInvalid beyond the bounds.
func (s *Store) CreateReleaseUpload(u ReleaseUpload) (ReleaseUpload, string, error) {
	now := s.now().UTC()
	u.ID, u.AssetID, u.Status, u.CreatedAt, u.ExpiresAt = NewUUID(), NewUUID(), UploadStarted, now, now.Add(ReleaseUploadTTL)
	plain, _ := newTokenString()
	u.TokenHash = hashToken(plain)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReleaseUploads)
		if b.Stats().KeyN >= MaxReleaseUploads {
			return fmt.Errorf("%w: %d uploads are under way; retry later", ErrInvalid, MaxReleaseUploads)
		}
		mine := 0
		b.ForEach(func(_, v []byte) error {
			var o ReleaseUpload
			if getRaw(v, &o) == nil && o.Uploader == u.Uploader && !o.Done && now.Before(o.ExpiresAt) {
				mine++
			}
			return nil
		})
		if mine >= MaxUploadsPerUploader {
			return fmt.Errorf("%w: at most %d unfinished uploads per token; finish or abandon one", ErrInvalid, MaxUploadsPerUploader)
		}
		if err := put(b, []byte(u.ID), u); err != nil {
			return err
		}
		return tx.Bucket(bucketReleaseAssets).Put([]byte(u.AssetID), []byte(u.ID))
	})
	if err != nil {
		return ReleaseUpload{}, "", err
	}
	return u, plain, nil
}

// ReleaseUpload returns a live upload by ID, or ErrNotFound.
func (s *Store) ReleaseUpload(id string) (ReleaseUpload, error) {
	var u ReleaseUpload
	err := s.db.View(func(tx *bolt.Tx) error { return get(tx.Bucket(bucketReleaseUploads), []byte(id), &u) })
	return u, err
}

// ReleaseUploadByAsset returns the upload of an asset whose token is
// plain, or ErrNotFound (a wrong token is the same answer).
func (s *Store) ReleaseUploadByAsset(assetID, plain string) (ReleaseUpload, error) {
	var u ReleaseUpload
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketReleaseAssets).Get([]byte(assetID))
		if id == nil {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketReleaseUploads), id, &u)
	})
	if err != nil || !tokenEqual(u.TokenHash, hashToken(plain)) || !s.now().Before(u.ExpiresAt) {
		return ReleaseUpload{}, ErrNotFound
	}
	return u, nil
}

// UpdateReleaseUpload applies fn to an upload and stores it.
func (s *Store) UpdateReleaseUpload(id string, fn func(*ReleaseUpload) error) (ReleaseUpload, error) {
	var u ReleaseUpload
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReleaseUploads)
		if err := get(b, []byte(id), &u); err != nil {
			return err
		}
		orig := u
		if err := fn(&u); err != nil {
			return err
		}
		u.ID, u.AssetID, u.TokenHash, u.ProjectID, u.WorkspaceID, u.CreatedAt = orig.ID, orig.AssetID, orig.TokenHash, orig.ProjectID, orig.WorkspaceID, orig.CreatedAt
		return put(b, []byte(id), u)
	})
	return u, err
}

// MarkBlock records that block n arrived.
func (s *Store) MarkBlock(id string, n int) (ReleaseUpload, error) {
	return s.UpdateReleaseUpload(id, func(u *ReleaseUpload) error {
		if i, ok := slices.BinarySearch(u.Received, n); !ok {
			u.Received = slices.Insert(u.Received, i, n)
		}
		return nil
	})
}

// ExpiredReleaseUploads returns up to max uploads past their expiry that
// never became a build, for their parts to be removed (then
// DeleteReleaseUpload).
func (s *Store) ExpiredReleaseUploads(max int) ([]ReleaseUpload, error) {
	var out []ReleaseUpload
	now := s.now()
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReleaseUploads).ForEach(func(_, v []byte) error {
			var u ReleaseUpload
			if len(out) < max && getRaw(v, &u) == nil && !now.Before(u.ExpiresAt) {
				out = append(out, u)
			}
			return nil
		})
	})
	return out, err
}

// DeleteReleaseUpload forgets an upload.
func (s *Store) DeleteReleaseUpload(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var u ReleaseUpload
		if err := get(tx.Bucket(bucketReleaseUploads), []byte(id), &u); err != nil {
			return nil
		}
		if err := tx.Bucket(bucketReleaseAssets).Delete([]byte(u.AssetID)); err != nil {
			return err
		}
		return tx.Bucket(bucketReleaseUploads).Delete([]byte(id))
	})
}

// BuildBySeq returns a project's build by its sequence number (App
// Center's release ID), or ErrNotFound.
func (s *Store) BuildBySeq(projectID string, seq uint64) (Build, error) {
	var b Build
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := key(projectID, fmt.Sprintf("%016x", seq), "")
		k, _ := tx.Bucket(bucketProjectBuilds).Cursor().Seek(prefix)
		if k == nil || len(k) <= len(prefix) || string(k[:len(prefix)]) != string(prefix) {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketBuilds), k[len(prefix):], &b)
	})
	return b, err
}

// tokenEqual compares two token hashes in constant time.
func tokenEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
