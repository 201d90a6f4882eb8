package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// GCResult counts what GC removed.
type GCResult struct {
	DownloadTokens int `json:"downloadTokens"`
	Sessions       int `json:"sessions"`
	AccessLog      int `json:"accessLogEntries"`
}

// GC removes download tokens that are used or expired, API tokens (login
// sessions) past their expiry, and access log entries older than
// logsBefore (zero: keep them all), in one transaction.
func (s *Store) GC(logsBefore time.Time) (GCResult, error) {
	var r GCResult
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		r = GCResult{}
		dts := tx.Bucket(bucketDownloadToken)
		var dead [][]byte
		if err := dts.ForEach(func(k, v []byte) error {
			var t DownloadToken
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			if t.Used || !now.Before(t.ExpiresAt) {
				dead = append(dead, bytes.Clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range dead {
			if err := dts.Delete(k); err != nil {
				return err
			}
		}
		r.DownloadTokens = len(dead)

		var expired []Token
		if err := tx.Bucket(bucketTokens).ForEach(func(_, v []byte) error {
			var t Token
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
				expired = append(expired, t)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, t := range expired {
			if err := revokeToken(tx, t.OwnerID, t.Prefix); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		r.Sessions = len(expired)

		if logsBefore.IsZero() {
			return nil
		}
		log := tx.Bucket(bucketAccessLog)
		var old [][]byte
		if err := log.ForEach(func(k, v []byte) error {
			var e AccessLogEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Time.Before(logsBefore) {
				old = append(old, bytes.Clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			if err := log.Delete(k); err != nil {
				return err
			}
		}
		r.AccessLog = len(old)
		return nil
	})
	return r, err
}
