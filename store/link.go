package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PublicLink lets anyone with its URL download one file, within its limits.
type PublicLink struct {
	ID             string    `json:"id"`
	FileID         string    `json:"fileId"`
	DownloadLimit  int64     `json:"downloadLimit"` // 0 = none
	ExpirationDate time.Time `json:"expirationDate"`
	IsPermanent    bool      `json:"isPermanent"` // true: ExpirationDate is ignored
	AccessCount    int64     `json:"accessCount"`
	IsActive       bool      `json:"isActive"`
	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy,omitempty"`
}

// AccessLogEntry records one download through a public link.
type AccessLogEntry struct {
	LinkID    string    `json:"linkId"`
	Time      time.Time `json:"timestamp"`
	ClientIP  string    `json:"clientIp"`
	UserAgent string    `json:"userAgent,omitempty"`
}

// CreateLink stores a new, active public link to an existing file. It returns
// ErrNotFound if the file does not exist and ErrInvalid for a negative limit.
func (s *Store) CreateLink(l PublicLink) (PublicLink, error) {
	if l.DownloadLimit < 0 {
		return PublicLink{}, fmt.Errorf("%w: download limit %d", ErrInvalid, l.DownloadLimit)
	}
	l.ID = NewID()
	l.CreatedAt = s.now().UTC()
	l.AccessCount = 0
	l.IsActive = true
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketFiles).Get([]byte(l.FileID)) == nil {
			return fmt.Errorf("file %s: %w", l.FileID, ErrNotFound)
		}
		if err := tx.Bucket(bucketFileLinks).Put(key(l.FileID, l.ID), nil); err != nil {
			return err
		}
		return put(tx.Bucket(bucketLinks), []byte(l.ID), l)
	})
	if err != nil {
		return PublicLink{}, err
	}
	return l, nil
}

// Link returns the public link with the given ID, or ErrNotFound.
func (s *Store) Link(id string) (PublicLink, error) {
	var l PublicLink
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketLinks), []byte(id), &l)
	})
	return l, err
}

// LinksOfFile returns the public links of a file, in ID order.
func (s *Store) LinksOfFile(fileID string) ([]PublicLink, error) {
	var out []PublicLink
	err := s.db.View(func(tx *bolt.Tx) error {
		links := tx.Bucket(bucketLinks)
		var err error
		forEachPrefix(tx.Bucket(bucketFileLinks), fileID, func(linkID, _ []byte) bool {
			var l PublicLink
			if err = get(links, linkID, &l); err != nil {
				return false
			}
			out = append(out, l)
			return true
		})
		return err
	})
	return out, err
}

// DeactivateLink marks a link inactive; it stays readable with its access
// log. It returns ErrNotFound if the link does not exist.
func (s *Store) DeactivateLink(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		links := tx.Bucket(bucketLinks)
		var l PublicLink
		if err := get(links, []byte(id), &l); err != nil {
			return err
		}
		l.IsActive = false
		return put(links, []byte(id), l)
	})
}

func deleteLinksOfFile(tx *bolt.Tx, fileID string) error {
	links := tx.Bucket(bucketLinks)
	var ids []string
	forEachPrefix(tx.Bucket(bucketFileLinks), fileID, func(linkID, _ []byte) bool {
		ids = append(ids, string(linkID))
		return true
	})
	for _, id := range ids {
		if err := links.Delete([]byte(id)); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket(bucketAccessLog), id); err != nil {
			return err
		}
	}
	return deletePrefix(tx.Bucket(bucketFileLinks), fileID)
}

// DownloadToken is a short-lived, single-use credential for one file.
type DownloadToken struct {
	FileID    string    `json:"fileId"`
	ExpiresAt time.Time `json:"expiresAt"`
	Used      bool      `json:"used"`
}

// CreateDownloadToken stores a single-use token for an existing file and
// returns its plain form; only its hash is kept. It returns ErrNotFound if the
// file does not exist.
func (s *Store) CreateDownloadToken(fileID string, expiresAt time.Time) (string, DownloadToken, error) {
	plain, _ := newTokenString()
	t := DownloadToken{FileID: fileID, ExpiresAt: expiresAt.UTC()}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketFiles).Get([]byte(fileID)) == nil {
			return fmt.Errorf("file %s: %w", fileID, ErrNotFound)
		}
		return put(tx.Bucket(bucketDownloadToken), hashToken(plain), t)
	})
	if err != nil {
		return "", DownloadToken{}, err
	}
	return plain, t, nil
}

// RedeemDownloadToken marks a download token used and returns it, in one
// transaction, so that concurrent requests with the same token succeed once.
// It returns ErrNotFound for an unknown token and ErrTokenExpired for one
// that has expired or was already used.
func (s *Store) RedeemDownloadToken(plain string) (DownloadToken, error) {
	var t DownloadToken
	err := s.db.Update(func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketDownloadToken)
		k := hashToken(plain)
		if err := get(tokens, k, &t); err != nil {
			return err
		}
		if t.Used || !s.now().Before(t.ExpiresAt) {
			return ErrTokenExpired
		}
		t.Used = true
		return put(tokens, k, t)
	})
	return t, err
}
