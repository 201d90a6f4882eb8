package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

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
