package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Reading builds: pages of a project's builds, the queries the APIs and
// distributions filter by, searches with a bounded scan, and what
// retention deletes. Writing them is builds.go.

// Builds returns a page of a project's builds, newest first, and the
// cursor of the next page ("" after the last).
func (s *Store) Builds(projectID string, p Page) ([]Build, string, error) {
	var out []Build
	var next string
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, next, err = buildsPage(tx, projectID, p)
		return err
	})
	return out, next, err
}

// BuildFiles is a build with its files, in upload order.
type BuildFiles struct {
	Build
	Files []File
}

// BuildsWithFiles is Builds with each build's files, read in the same
// transaction: a list page is one read, not one per build.
func (s *Store) BuildsWithFiles(projectID string, p Page) ([]BuildFiles, string, error) {
	out := []BuildFiles{}
	var next string
	err := s.db.View(func(tx *bolt.Tx) error {
		builds, n, err := buildsPage(tx, projectID, p)
		if err != nil {
			return err
		}
		next = n
		out, err = withFiles(tx, builds)
		return err
	})
	return out, next, err
}

// BuildQuery selects builds: Text appears (case-insensitively) in the
// version, build number, notes, a tag or the app name; Status equals the
// build's; each of Tags is one of its tags; VersionName, OS, the git
// Branch and GitTag CI reported equal the build's. Empty parts match
// everything.
type BuildQuery struct {
	Text, Status string
	Tags         []string
	VersionName  string
	OS           string
	Branch       string
	GitTag       string
}

// IsZero reports whether q selects every build.
func (q BuildQuery) IsZero() bool {
	return q.Text == "" && q.Status == "" && len(q.Tags) == 0 && q.VersionName == "" && q.OS == "" && q.Branch == "" && q.GitTag == ""
}

// Matches reports whether b is one of the builds q selects.
func (q BuildQuery) Matches(b Build) bool {
	if q.Status != "" && b.Status != q.Status {
		return false
	}
	for _, t := range q.Tags {
		if !slices.Contains(b.Tags, t) {
			return false
		}
	}
	switch {
	case q.VersionName != "" && b.VersionName != q.VersionName, q.OS != "" && b.OS != q.OS,
		q.Branch != "" && b.GitBranch() != q.Branch, q.GitTag != "" && b.GitTag() != q.GitTag:
		return false
	}
	if q.Text == "" {
		return true
	}
	t := strings.ToLower(q.Text)
	for _, field := range append([]string{b.VersionName, b.VersionCode, b.Notes, b.AppName}, b.Tags...) {
		if strings.Contains(strings.ToLower(field), t) {
			return true
		}
	}
	return false
}

// BuildCount is how many builds a project has, from the counted index (a
// few keys, whatever the number of builds).
func (s *Store) BuildCount(projectID string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = buildCount(tx, projectID)
		return nil
	})
	return n, err
}

func buildCount(tx *bolt.Tx, projectID string) int {
	n := 0
	forEachPrefix(tx.Bucket(bucketBuildCounts), projectID+"/2", func(_, v []byte) bool { // level-2 blocks (see rank.go)
		if len(v) == 8 {
			n += int(binary.BigEndian.Uint64(v))
		}
		return true
	})
	return n
}

// QueryResult is a page of builds and how many the query selects in all.
type QueryResult struct {
	Builds    []BuildFiles
	Total     int
	Truncated bool // a filter's scan stopped at MaxQueryScan builds
}

// QueryBuilds returns the builds of a project that q selects, in creation
// order (newest first, or oldest first with asc), from offset on, at most
// limit, with their files, and how many there are in all. Without a filter
// it costs O(limit) at any offset (the counted index); with one it reads
// the project's builds, newest first, at most MaxQueryScan of them.
func (s *Store) QueryBuilds(projectID string, q BuildQuery, asc bool, offset, limit int) (QueryResult, error) {
	var r QueryResult
	err := s.db.View(func(tx *bolt.Tx) error {
		r = QueryResult{Builds: []BuildFiles{}}
		if q.IsZero() {
			r.Total = buildCount(tx, projectID)
			start, n := offset, min(limit, r.Total-offset)
			if asc {
				start = r.Total - offset - n
			}
			if n <= 0 {
				return nil
			}
			builds, _, err := buildsPage(tx, projectID, Page{Offset: start, Limit: n})
			if err != nil {
				return err
			}
			if asc {
				slices.Reverse(builds)
			}
			r.Builds, err = withFiles(tx, builds)
			return err
		}
		var matched []Build // asc: every match, to take the window from the oldest
		prefix := key(projectID, "")
		c := tx.Bucket(bucketProjectBuilds).Cursor()
		builds := tx.Bucket(bucketBuilds)
		k, _ := c.Seek(append(bytes.Clone(prefix), 0xff))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for scanned := 0; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if scanned == MaxQueryScan {
				r.Truncated = true
				break
			}
			scanned++
			b, err := indexedBuild(builds, k[len(prefix):])
			if err != nil {
				return err
			}
			if !q.Matches(b) {
				continue
			}
			if asc {
				matched = append(matched, b)
			} else if r.Total >= offset && r.Total < offset+limit {
				matched = append(matched, b)
			}
			r.Total++
		}
		if asc {
			slices.Reverse(matched)
			matched = matched[min(offset, len(matched)):min(offset+limit, len(matched))]
		}
		var err error
		r.Builds, err = withFiles(tx, matched)
		return err
	})
	return r, err
}

// indexedBuild reads the build a project_builds key names (its suffix
// after the project: seq/buildID).
func indexedBuild(builds *bolt.Bucket, suffix []byte) (Build, error) {
	_, id, _ := bytes.Cut(suffix, []byte("/"))
	var b Build
	if err := get(builds, id, &b); err != nil {
		return b, fmt.Errorf("build index %q: %w", suffix, err)
	}
	return b, nil
}

// withFiles reads the files of each build.
func withFiles(tx *bolt.Tx, builds []Build) ([]BuildFiles, error) {
	out := make([]BuildFiles, 0, len(builds))
	for _, b := range builds {
		files, err := filesOf(tx, b.ID)
		if err != nil {
			return out, err
		}
		out = append(out, BuildFiles{Build: b, Files: files})
	}
	return out, nil
}

// SearchBuilds returns up to limit builds of a project that match q, newest
// first, starting after the cursor after (from a previous call; "" for the
// newest), with their files. It reads at most MaxSearchScan builds: next is
// where the next call goes on ("" once the oldest build was read), and
// scanned how many builds this call read, so that a caller can say "no
// match among the last N builds, go on?".
func (s *Store) SearchBuilds(projectID string, q BuildQuery, after string, limit int) (out []BuildFiles, next string, scanned int, err error) {
	out = []BuildFiles{}
	if limit <= 0 {
		limit = 50
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		prefix := key(projectID, "")
		c := tx.Bucket(bucketProjectBuilds).Cursor()
		k, _, err := pageFrom(c, prefix, Page{After: after}, nil)
		if err != nil {
			return err
		}
		builds := tx.Bucket(bucketBuilds)
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if len(out) == limit || scanned == MaxSearchScan {
				next = base64.RawURLEncoding.EncodeToString(k[len(prefix):])
				// next names the last key read, so the walk goes on after it:
				// step back to the one read last.
				if kk, _ := c.Next(); kk != nil && bytes.HasPrefix(kk, prefix) {
					next = base64.RawURLEncoding.EncodeToString(kk[len(prefix):])
				}
				return nil
			}
			scanned++
			b, err := indexedBuild(builds, k[len(prefix):])
			if err != nil {
				return err
			}
			if !q.Matches(b) {
				continue
			}
			files, err := filesOf(tx, b.ID)
			if err != nil {
				return err
			}
			out = append(out, BuildFiles{Build: b, Files: files})
		}
		return nil
	})
	return out, next, scanned, err
}

func buildsPage(tx *bolt.Tx, projectID string, p Page) ([]Build, string, error) {
	out := []Build{}
	builds := tx.Bucket(bucketBuilds)
	next, err := walkPage(tx.Bucket(bucketProjectBuilds).Cursor(), key(projectID, ""), p,
		func() []byte { return rankSeek(tx, projectID, p.Offset) },
		func(suffix, _ []byte) error {
			b, err := indexedBuild(builds, suffix)
			if err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	return out, next, err
}

// Expired returns up to max builds of a project that retention deletes:
// beyond the newest keep (when keep > 0), or created before cutoff (when
// cutoff is not zero); builds pending or in progress are never among them.
// It seeks the project's build index rather than loading the project: the
// newest keep are passed over by the counted index, and the age test reads from the
// oldest end and stops at the first build young enough (builds are indexed
// in creation order). Call it again after deleting what it returned, until
// it returns none.
func (s *Store) Expired(projectID string, keep int, cutoff time.Time, max int) ([]Build, error) {
	var out []Build
	err := s.db.View(func(tx *bolt.Tx) error {
		builds, index := tx.Bucket(bucketBuilds), tx.Bucket(bucketProjectBuilds)
		seen := map[string]bool{}
		var err error
		take := func(suffix []byte, stopWhenYoung bool) bool {
			_, id, _ := bytes.Cut(suffix, []byte("/"))
			var b Build
			if err = get(builds, id, &b); err != nil {
				err = fmt.Errorf("build index %q: %w", suffix, err)
				return false
			}
			if stopWhenYoung && !b.CreatedAt.Before(cutoff) {
				return false
			}
			if b.Status != BuildPending && b.Status != BuildInProgress && !seen[b.ID] {
				seen[b.ID] = true
				out = append(out, b)
			}
			return len(out) < max
		}
		if !cutoff.IsZero() {
			forEachPrefix(index, projectID, func(suffix, _ []byte) bool { return take(suffix, true) })
		}
		if err != nil || keep <= 0 || len(out) >= max {
			return err
		}
		// The newest keep are passed over by the counted index, not walked.
		from := rankSeek(tx, projectID, keep)
		if from == nil {
			return nil
		}
		c := index.Cursor()
		prefix := key(projectID, "")
		for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if !take(k[len(prefix):], false) {
				break
			}
		}
		return err
	})
	return out, err
}

// MaxQueryScan bounds how many builds one QueryBuilds call with a filter
// reads: the newest ones. A project with more builds gets its filtered
// lists from its newest MaxQueryScan builds (and Truncated says so).
const MaxQueryScan = 100_000

// MaxSearchScan bounds how many builds one SearchBuilds call reads: a
// search in a large project answers a page at a time, each of bounded cost,
// and says where to go on.
const MaxSearchScan = 5000
