package store

import (
	"crypto/rand"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SigningKey is an HMAC key for signed download URLs.
type SigningKey struct {
	ID        string    `json:"id"`
	Secret    []byte    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
}

// SigningKeys returns the stored signing keys, creating the first one if
// there is none, newest first.
func (s *Store) SigningKeys() ([]SigningKey, error) {
	var keys []SigningKey
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSigningKeys)
		if k, _ := b.Cursor().First(); k == nil {
			if _, err := addSigningKey(tx, s.now()); err != nil {
				return err
			}
		}
		return b.ForEach(func(k, v []byte) error {
			var sk SigningKey
			if err := get(b, k, &sk); err != nil {
				return err
			}
			keys = append(keys, sk)
			return nil
		})
	})
	// Key IDs are time-ordered: reverse for newest first.
	for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
		keys[i], keys[j] = keys[j], keys[i]
	}
	return keys, err
}

// RotateSigningKey adds a new signing key, which SigningKeys then lists
// first. Older keys stay valid so that URLs already handed out keep working
// until they expire.
func (s *Store) RotateSigningKey() (SigningKey, error) {
	var sk SigningKey
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if sk, err = addSigningKey(tx, s.now()); err != nil {
			return err
		}
		return s.record(tx, AuditSigningKeyRotated, AuditTarget{Kind: "signing_key", ID: sk.ID}, "", nil)
	})
	return sk, err
}

func addSigningKey(tx *bolt.Tx, now time.Time) (SigningKey, error) {
	sk := SigningKey{Secret: make([]byte, 32), CreatedAt: now.UTC()}
	rand.Read(sk.Secret)
	// A short, sortable ID: kids appear in every signed URL.
	var r [2]byte
	rand.Read(r[:])
	sk.ID = fmt.Sprintf("%x%x", uint64(now.Unix()), r)
	b := tx.Bucket(bucketSigningKeys)
	if b.Get([]byte(sk.ID)) != nil {
		return SigningKey{}, fmt.Errorf("signing key %s: %w", sk.ID, ErrConflict)
	}
	return sk, put(b, []byte(sk.ID), sk)
}
