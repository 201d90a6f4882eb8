package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"hangar/pace"
)

// GCResult counts what GC removed.
type GCResult struct {
	DownloadTokens int `json:"downloadTokens"`
	Sessions       int `json:"sessions"`
	AccessLog      int `json:"accessLogEntries"`
	AuditLog       int `json:"auditLogEntries"`
	Installs       int `json:"installRecords"`
	ReleaseUploads int `json:"releaseUploads"` // App Center's, abandoned or done (depot's GC)
}

// GC removes download tokens that are used or expired, API tokens (login
// sessions) past their expiry, and access log entries older than
// logsBefore (zero: keep them all). It works in small transactions (see
// sweep), so requests wait for at most one of them, never for the whole
// run; what it removed stays removed if it stops half-way.
func (s *Store) GC(logsBefore time.Time) (GCResult, error) {
	var r GCResult
	now := s.now()
	var err error
	// Expired single-use links (invitations, resets, sign-ins half done).
	if _, err = s.sweep(bucketTickets, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var t Ticket
		if err := json.Unmarshal(v, &t); err != nil {
			return false, nil, err
		}
		return !now.Before(t.ExpiresAt), nil, nil
	}, func(tx *bolt.Tx, k, v []byte) error {
		var t Ticket
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTicketIDs).Delete([]byte(t.ID)); err != nil {
			return err
		}
		return tx.Bucket(bucketTickets).Delete(k)
	}); err != nil {
		return r, err
	}
	// Testers' sign-in links, sessions and sign-outs, once expired.
	if _, err = s.sweep(bucketTesterLinks, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var l TesterLink
		if err := json.Unmarshal(v, &l); err != nil {
			return false, nil, err
		}
		return !now.Before(l.ExpiresAt), nil, nil
	}, func(tx *bolt.Tx, k, v []byte) error {
		var l TesterLink
		if err := json.Unmarshal(v, &l); err != nil {
			return err
		}
		addrs := tx.Bucket(bucketTesterLinkAddrs)
		if bytes.Equal(addrs.Get([]byte(l.Email)), k) {
			if err := addrs.Delete([]byte(l.Email)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketTesterLinks).Delete(k)
	}); err != nil {
		return r, err
	}
	if _, err = s.sweep(bucketTesterSessions, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var t TesterSession
		if err := json.Unmarshal(v, &t); err != nil {
			return false, nil, err
		}
		return !now.Before(t.ExpiresAt), nil, nil
	}, func(tx *bolt.Tx, k, v []byte) error {
		var t TesterSession
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		return deleteTesterSession(tx, t)
	}); err != nil {
		return r, err
	}
	if _, err = s.sweep(bucketTesterRevocations, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var t testerRevocation
		if err := json.Unmarshal(v, &t); err != nil {
			return false, nil, err
		}
		return !now.Before(t.Until), nil, nil
	}, nil); err != nil {
		return r, err
	}
	// What a distribution mailed about, once it is old news; a workspace's
	// notification count, after its hour.
	if _, err = s.sweep(bucketNotifySent, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		t, err := time.Parse(time.RFC3339, string(v))
		return err != nil || now.Sub(t) >= NotifySentTTL, nil, nil
	}, nil); err != nil {
		return r, err
	}
	if _, err = s.sweep(bucketNotifyRate, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var r notifyRate
		if err := json.Unmarshal(v, &r); err != nil {
			return false, nil, err
		}
		return now.Sub(r.Since) >= time.Hour, nil, nil
	}, nil); err != nil {
		return r, err
	}
	// A recipient's mail count matters for an hour (queueMail).
	if _, err = s.sweep(bucketMailRate, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var r mailRate
		if err := json.Unmarshal(v, &r); err != nil {
			return false, nil, err
		}
		return now.Sub(r.Since) >= time.Hour, nil, nil
	}, nil); err != nil {
		return r, err
	}
	r.DownloadTokens, err = s.sweep(bucketDownloadToken, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var t DownloadToken
		if err := json.Unmarshal(v, &t); err != nil {
			return false, nil, err
		}
		return t.Used || !now.Before(t.ExpiresAt), nil, nil
	}, nil)
	if err != nil {
		return r, err
	}
	r.Sessions, err = s.sweep(bucketTokens, func(_ *bolt.Tx, _, v []byte) (bool, []byte, error) {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return false, nil, err
		}
		return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt), nil, nil
	}, func(tx *bolt.Tx, _, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		if _, err := revokeToken(tx, t.OwnerID, t.Prefix); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil || logsBefore.IsZero() {
		return r, err
	}
	// A link's entries are keyed by its access count, so in time order: the
	// old ones are at the start of its keys. Each link costs the decoding of
	// what is removed plus one entry, then a seek to the next link.
	r.AccessLog, err = s.sweep(bucketAccessLog, func(_ *bolt.Tx, k, v []byte) (bool, []byte, error) {
		var e AccessLogEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return false, nil, err
		}
		if e.Time.Before(logsBefore) {
			return true, nil, nil
		}
		linkID, _, _ := bytes.Cut(k, []byte("/"))
		return false, append(key(string(linkID), ""), 0xff), nil
	}, nil)
	if err != nil {
		return r, err
	}
	// Install records are keyed in time order: the sweep stops at the
	// first young enough.
	r.Installs, err = s.sweep(bucketInstalls, func(_ *bolt.Tx, k, v []byte) (bool, []byte, error) {
		var i Install
		if err := json.Unmarshal(v, &i); err != nil {
			return false, nil, err
		}
		if i.Time.Before(logsBefore) {
			return true, nil, nil
		}
		return false, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil
	}, func(tx *bolt.Tx, k, _ []byte) error {
		return deleteInstall(tx, binary.BigEndian.Uint64(k))
	})
	return r, err
}

// A sweep's transactions end after sweepKeys keys or sweepTime, whichever
// comes first: long enough to amortise a commit, short enough that a
// request waiting for the write lock does not notice.
const (
	sweepKeys = 512
	sweepTime = 4 * time.Millisecond
)

// sweep walks bucket in key order through successive write transactions of
// bounded size and duration, yielding the database between them and
// resting as long as each took. visit
// says whether to remove a key, and may name a key to go on from (nil: the
// next one); remove removes one (nil: delete the key). It returns how many
// keys it removed.
func (s *Store) sweep(bucket []byte, visit func(tx *bolt.Tx, k, v []byte) (bool, []byte, error), remove func(tx *bolt.Tx, k, v []byte) error) (int, error) {
	removed := 0
	var (
		from []byte
		w    pace.Worker
	)
	for done := false; !done; {
		// One background batch at a time, resting as long as it took:
		// requests get the write lock and the processors between
		// batches, not only between transactions.
		err := pace.Batch(func() error {
			return s.db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucket)
				c := b.Cursor()
				var dead [][2][]byte
				k, v := c.First()
				if from != nil {
					k, v = c.Seek(from)
				}
				start := time.Now()
				for n := 0; ; n++ {
					if k == nil {
						done = true
						break
					}
					if n == sweepKeys || n%64 == 63 && time.Since(start) > sweepTime {
						from = bytes.Clone(k)
						break
					}
					w.Step()
					del, skip, err := visit(tx, k, v)
					if err != nil {
						return err
					}
					if del {
						dead = append(dead, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
					}
					if skip != nil {
						k, v = c.Seek(skip)
					} else {
						k, v = c.Next()
					}
				}
				// Removed after the walk: deleting under a bbolt cursor can
				// make its Next skip a key.
				for _, kv := range dead {
					var err error
					if remove != nil {
						err = remove(tx, kv[0], kv[1])
					} else {
						err = b.Delete(kv[0])
					}
					if err != nil {
						return err
					}
				}
				removed += len(dead)
				return nil
			})
		})
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}
