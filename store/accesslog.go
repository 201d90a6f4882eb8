package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AccessLogEntry records one download through a public link.
type AccessLogEntry struct {
	LinkID    string    `json:"linkId"`
	Time      time.Time `json:"timestamp"`
	ClientIP  string    `json:"clientIp"`
	UserAgent string    `json:"userAgent,omitempty"`
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

// AccessLog returns a page of a link's access log, newest first.
func (s *Store) AccessLog(linkID string, offset, limit int) ([]AccessLogEntry, error) {
	out := []AccessLogEntry{}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		forEachPrefixReverse(tx.Bucket(bucketAccessLog), linkID, func(_, v []byte) bool {
			if offset > 0 {
				offset--
				return true
			}
			if limit > 0 && len(out) == limit {
				return false
			}
			var e AccessLogEntry
			if err = json.Unmarshal(v, &e); err != nil {
				return false
			}
			out = append(out, e)
			return true
		})
		return err
	})
	return out, err
}
