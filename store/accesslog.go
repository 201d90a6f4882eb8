package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AccessLogEntry records one download through a public link or a
// distribution (LinkID is then the distribution's ID).
type AccessLogEntry struct {
	LinkID    string    `json:"linkId"`
	Time      time.Time `json:"timestamp"`
	ClientIP  string    `json:"clientIp"`
	UserAgent string    `json:"userAgent,omitempty"`
	// Install, when set, is recorded with the entry (installs.go); a
	// link's fills in its build and file when empty.
	Install *Install `json:"-"`
}

// DefaultAccessLogCap is how many access log entries a link keeps unless
// Options.AccessLogCap says otherwise; older ones are dropped as new ones
// come. The access count keeps counting.
const DefaultAccessLogCap = 10_000

// accessLogKey orders a link's log by sequence number (its access count at
// the time), in fixed-width hex so byte order is numeric order.
func accessLogKey(linkID string, seq int64) []byte {
	return key(linkID, fmt.Sprintf("%016x", seq))
}

// appendAccess adds entry seq (the access count it made) to the log of a
// link or distribution, dropping the one that falls off the cap.
func (s *Store) appendAccess(tx *bolt.Tx, id string, seq int64, e AccessLogEntry) error {
	log := tx.Bucket(bucketAccessLog)
	e.LinkID = id
	if e.Install != nil {
		if err := recordInstall(tx, *e.Install); err != nil {
			return err
		}
	}
	if err := put(log, accessLogKey(id, seq), e); err != nil {
		return err
	}
	if old := seq - s.logCap; old > 0 {
		return log.Delete(accessLogKey(id, old))
	}
	return nil
}

// AccessLog returns a page of a link's access log, newest first, and the
// cursor of the next page ("" after the last). A link's entries are
// numbered by its access count without gaps (only the oldest are ever
// removed), so an offset is found by arithmetic from the newest, not by
// walking.
func (s *Store) AccessLog(linkID string, p Page) ([]AccessLogEntry, string, error) {
	out := []AccessLogEntry{}
	var next string
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := key(linkID, "")
		c := tx.Bucket(bucketAccessLog).Cursor()
		offset := func() []byte {
			newest, _, _ := pageFrom(c, prefix, Page{}, nil)
			if newest == nil {
				return nil
			}
			seq, err := strconv.ParseInt(string(newest[len(prefix):]), 16, 64)
			if err != nil || seq-int64(p.Offset) < 1 {
				return nil
			}
			// The key exists unless the clock went back and GC took an
			// entry from the middle: then the next older one.
			target := accessLogKey(linkID, seq-int64(p.Offset))
			if k, _ := c.Seek(target); bytes.Equal(k, target) {
				return k
			}
			k, _ := c.Prev()
			return k
		}
		var err error
		next, err = walkPage(c, prefix, p, offset, func(_, v []byte) error {
			var e AccessLogEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
		return err
	})
	return out, next, err
}
