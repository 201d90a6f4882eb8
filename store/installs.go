package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Installs: who took which build onto which device. Every counted
// download through a tester page or a link records one, in the
// transaction that counts it (an AccessLogEntry's Install): the tester
// when known, the build and file, the device as its User-Agent describes
// it, time and address. On iOS the installer fetching a manifest's
// package is an "install"; a download is a "download". They are listed
// per build, per distribution and per tester, newest first; gc removes
// them with the access log's retention, a deleted build takes its own,
// and a build keeps at most MaxInstallsPerBuild.

// Install kinds.
const (
	InstallKindInstall  = "install"
	InstallKindDownload = "download"
)

// MaxInstallsPerBuild bounds the records of one build; the oldest go.
const MaxInstallsPerBuild = 10_000

// installCap is MaxInstallsPerBuild, lowered by tests.
var installCap = MaxInstallsPerBuild

// Install is one record.
type Install struct {
	Seq            uint64    `json:"seq"`
	Time           time.Time `json:"time"`
	WorkspaceID    string    `json:"workspaceId"`
	BuildID        string    `json:"buildId"`
	FileID         string    `json:"fileId"`
	DistributionID string    `json:"distributionId,omitempty"`
	LinkID         string    `json:"linkId,omitempty"`
	Tester         string    `json:"tester,omitempty"` // an address, or a member's username; "" unknown
	Kind           string    `json:"kind"`
	Platform       string    `json:"platform"`
	Model          string    `json:"model,omitempty"`
	ClientIP       string    `json:"clientIp"`
}

// Index prefixes of bucketInstallIndex.
func installByBuild(buildID string) string { return "b/" + buildID }
func installByDist(distID string) string   { return "d/" + distID }

// InstallsOfTester is the index prefix of a workspace's tester's records.
func installByTester(wsID, tester string) string { return "t/" + wsID + "/" + tester + "\x00" }

func seqKey(prefix string, seq uint64) []byte { return key(prefix, fmt.Sprintf("%016x", seq)) }

// indexKeys are the index entries of a record.
func (i Install) indexKeys() [][]byte {
	ks := [][]byte{seqKey(installByBuild(i.BuildID), i.Seq)}
	if i.DistributionID != "" {
		ks = append(ks, seqKey(installByDist(i.DistributionID), i.Seq))
	}
	if i.Tester != "" {
		ks = append(ks, seqKey(installByTester(i.WorkspaceID, i.Tester), i.Seq))
	}
	return ks
}

// recordInstall stores a record in tx, dropping the build's oldest beyond
// the cap.
func recordInstall(tx *bolt.Tx, i Install) error {
	if i.WorkspaceID == "" && i.Tester != "" {
		// Only a tester's index needs the workspace: an anonymous
		// download (most of them) reads no build and no project.
		var b Build
		var p Project
		if get(tx.Bucket(bucketBuilds), []byte(i.BuildID), &b) != nil || get(tx.Bucket(bucketProjects), []byte(b.ProjectID), &p) != nil {
			return nil // the build went with the download's check: nothing to record
		}
		i.WorkspaceID = p.WorkspaceID
	}
	recs, idx := tx.Bucket(bucketInstalls), tx.Bucket(bucketInstallIndex)
	seq, err := recs.NextSequence()
	if err != nil {
		return err
	}
	i.Seq = seq
	if err := put(recs, u64(seq), i); err != nil {
		return err
	}
	keys := i.indexKeys()
	for n, k := range keys {
		v := u64(seq)
		if n == 0 {
			v = buildEntry(seq, keys[1:])
		}
		if err := idx.Put(k, v); err != nil {
			return err
		}
	}
	if installCount(idx, i.BuildID) < uint64(installCap) {
		_, err := addInstallCount(idx, i.BuildID, 1)
		return err
	}
	// At the cap: the build's oldest record goes (a seek, not a count: a
	// download costs the same however many came before), and the count
	// stays as it is.
	c := idx.Cursor()
	if k, v := c.Seek(key(installByBuild(i.BuildID), "")); k != nil {
		return removeInstall(tx, c, v)
	}
	return nil
}

// buildEntry is the value of a record's key in its build's index: its
// sequence number, then its other index keys (a distribution's, a
// tester's), each after its length, so that the record can be removed
// at the build's cap without reading it. Entries of the other indexes,
// and of records made before, hold the sequence number alone.
func buildEntry(seq uint64, others [][]byte) []byte {
	v := u64(seq)
	for _, k := range others {
		v = binary.AppendUvarint(v, uint64(len(k)))
		v = append(v, k...)
	}
	if len(others) == 0 {
		v = append(v, 0) // none: told from an entry that does not say
	}
	return v
}

// parseBuildEntry reads a build index entry: ok is false when it does
// not name the record's other keys.
func parseBuildEntry(v []byte) (seq uint64, others [][]byte, ok bool) {
	if len(v) < 8 {
		return 0, nil, false
	}
	seq, rest := binary.BigEndian.Uint64(v), v[8:]
	if len(rest) == 0 {
		return seq, nil, false
	}
	if len(rest) == 1 && rest[0] == 0 {
		return seq, nil, true
	}
	for len(rest) > 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return seq, nil, false
		}
		others = append(others, rest[w:w+int(n)])
		rest = rest[w+int(n):]
	}
	return seq, others, true
}

// installCount is how many records a build has.
func installCount(idx *bolt.Bucket, buildID string) uint64 {
	if v := idx.Get(installCountKey(buildID)); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// installCountKey holds how many records a build has, kept with them.
func installCountKey(buildID string) []byte { return []byte("n/" + buildID) }

// addInstallCount changes a build's count by delta and returns it; at zero
// the key goes.
func addInstallCount(idx *bolt.Bucket, buildID string, delta int) (uint64, error) {
	k := installCountKey(buildID)
	n := uint64(max(0, int64(installCount(idx, buildID))+int64(delta)))
	if n == 0 {
		return 0, idx.Delete(k)
	}
	return n, idx.Put(k, u64(n))
}

// deleteInstall removes a record and its index entries.
func deleteInstall(tx *bolt.Tx, seq uint64) error {
	var i Install
	if err := get(tx.Bucket(bucketInstalls), u64(seq), &i); err != nil {
		return nil
	}
	if _, err := addInstallCount(tx.Bucket(bucketInstallIndex), i.BuildID, -1); err != nil {
		return err
	}
	return forgetInstall(tx, seq, i.indexKeys())
}

// removeInstall removes the record that the build index entry at c (its
// value entry) names, leaving the build's count as it is (a new record
// takes its place). An entry that names the record's other keys spares
// reading the record; one of schema 7 does not.
func removeInstall(tx *bolt.Tx, c *bolt.Cursor, entry []byte) error {
	seq, others, ok := parseBuildEntry(entry)
	if !ok {
		var i Install
		if err := get(tx.Bucket(bucketInstalls), u64(seq), &i); err != nil {
			return nil
		}
		return forgetInstall(tx, seq, i.indexKeys())
	}
	if err := c.Delete(); err != nil {
		return err
	}
	return forgetInstall(tx, seq, others)
}

// forgetInstall deletes record seq and its index entries keys.
func forgetInstall(tx *bolt.Tx, seq uint64, keys [][]byte) error {
	idx := tx.Bucket(bucketInstallIndex)
	for _, k := range keys {
		if err := idx.Delete(k); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketInstalls).Delete(u64(seq))
}

// deleteInstallsOf removes the records under an index prefix.
func deleteInstallsOf(tx *bolt.Tx, prefix string) error {
	var seqs []uint64
	forEachPrefix(tx.Bucket(bucketInstallIndex), prefix, func(_, v []byte) bool {
		seqs = append(seqs, binary.BigEndian.Uint64(v))
		return true
	})
	for _, s := range seqs {
		if err := deleteInstall(tx, s); err != nil {
			return err
		}
	}
	return nil
}

// InstallQuery names whose records to list: one of a build, a
// distribution, or a workspace's tester.
type InstallQuery struct {
	BuildID, DistributionID string
	WorkspaceID, Tester     string
}

func (q InstallQuery) prefix() string {
	switch {
	case q.BuildID != "":
		return installByBuild(q.BuildID)
	case q.DistributionID != "":
		return installByDist(q.DistributionID)
	}
	return installByTester(q.WorkspaceID, q.Tester)
}

// Installs returns up to limit records, newest first, older than before
// (0: from the newest), and the cursor of the next page (0: none).
func (s *Store) Installs(q InstallQuery, before uint64, limit int) ([]Install, uint64, error) {
	out := []Install{}
	var next uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := key(q.prefix(), "")
		recs := tx.Bucket(bucketInstalls)
		c := tx.Bucket(bucketInstallIndex).Cursor()
		var k, v []byte
		from := append(bytes.Clone(prefix), 0xff)
		if before > 0 {
			from = seqKey(q.prefix(), before)
		}
		// The newest key below from: Seek lands on from or after it.
		if k, _ = c.Seek(from); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			seq := binary.BigEndian.Uint64(v)
			if len(out) == limit {
				next = out[len(out)-1].Seq
				return nil
			}
			var i Install
			if err := get(recs, u64(seq), &i); err != nil {
				return err
			}
			out = append(out, i)
		}
		return nil
	})
	return out, next, err
}
