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

// Build statuses, as Applivery names them.
const (
	BuildPending    = "pending"
	BuildInProgress = "in_progress"
	BuildProcessed  = "processed"
	BuildError      = "error"
)

// Build is one upload of a project: a package and its attachments.
type Build struct {
	ID          string    `json:"id"`
	ProjectID   string    `json:"projectId"`
	Status      string    `json:"status"`
	VersionName string    `json:"versionName,omitempty"`
	VersionCode string    `json:"versionCode,omitempty"`
	BundleID    string    `json:"bundleId,omitempty"`
	Notes       string    `json:"notes,omitempty"` // Applivery's changelog
	Tags        []string  `json:"tags,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt,omitzero"` // the last change of any field
	// Seq orders builds by creation, even within one clock tick.
	Seq uint64 `json:"seq"`
	// What CI said about the build (Applivery's deployer and buildPlatform).
	Deployer      *Deployer `json:"deployer,omitempty"`
	BuildPlatform string    `json:"buildPlatform,omitempty"`
	Notify        *Notify   `json:"notify,omitempty"` // what the upload asked to tell people
	// When the build joined the processing queue, and when a worker began
	// and ended reading it.
	QueuedAt         time.Time `json:"queuedAt,omitzero"`
	ProcessStartedAt time.Time `json:"processStartedAt,omitzero"`
	ProcessedAt      time.Time `json:"processedAt,omitzero"`

	// What processing read from the package (empty until then, and for
	// files that are not packages).
	AppName   string        `json:"appName,omitempty"`
	OS        string        `json:"os,omitempty"` // ios, android, macos, windows
	MinOS     string        `json:"minOS,omitempty"`
	TargetSDK string        `json:"targetSdk,omitempty"`
	Profile   *Provisioning `json:"profile,omitempty"`
	// ProcessingError says why a build is in status error; ProcessingNotes
	// what processing could not read from a usable package.
	ProcessingError string   `json:"processingError,omitempty"`
	ProcessingNotes []string `json:"processingNotes,omitempty"`
}

// Deployer is what a CI job says about itself and the commit it built, as
// Applivery's clients send it.
type Deployer struct {
	Name string       `json:"name,omitempty"`
	Info DeployerInfo `json:"info"`
}

// DeployerInfo is the commit and CI job a build came from.
type DeployerInfo struct {
	Branch           string `json:"branch,omitempty"`
	Commit           string `json:"commit,omitempty"`
	CommitMessage    string `json:"commitMessage,omitempty"`
	Tag              string `json:"tag,omitempty"`
	RepositoryURL    string `json:"repositoryUrl,omitempty"`
	BuildNumber      string `json:"buildNumber,omitempty"`
	BuildURL         string `json:"buildUrl,omitempty"`
	CIURL            string `json:"ciUrl,omitempty"`
	TriggerTimestamp string `json:"triggerTimestamp,omitempty"`
}

// GitBranch and GitTag are the branch and tag CI built, if it said.
func (b Build) GitBranch() string {
	if b.Deployer == nil {
		return ""
	}
	return b.Deployer.Info.Branch
}

func (b Build) GitTag() string {
	if b.Deployer == nil {
		return ""
	}
	return b.Deployer.Info.Tag
}

// Provisioning is the provisioning profile an iOS build embeds.
type Provisioning struct {
	Name    string    `json:"name"`
	Team    string    `json:"team,omitempty"`
	TeamID  string    `json:"teamId,omitempty"`
	Expires time.Time `json:"expires"`
	Created time.Time `json:"created,omitzero"` // not valid before
	Type    string    `json:"type"`             // development, ad-hoc, enterprise, app-store
	Devices int       `json:"devices"`
	// DeviceIDs are the profile's UDIDs (builds processed before Hangar
	// kept them have none).
	DeviceIDs []string `json:"deviceIds,omitempty"`
}

// HasDevice says whether the profile lists the UDID, and whether that is
// known (false for a build processed before device lists were kept).
func (p *Provisioning) HasDevice(udid string) (has, known bool) {
	if p == nil || p.Devices > 0 && len(p.DeviceIDs) == 0 {
		return false, false
	}
	for _, id := range p.DeviceIDs {
		if strings.EqualFold(id, udid) {
			return true, true
		}
	}
	return false, true
}

// CreateBuild stores a new build of an existing project. An empty Status
// becomes BuildPending. It returns ErrNotFound if the project does not exist.
func (s *Store) CreateBuild(b Build) (Build, error) {
	b.ID = NewID()
	b.CreatedAt = s.now().UTC()
	b.UpdatedAt = b.CreatedAt
	if b.Status == "" {
		b.Status = BuildPending
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketProjects).Get([]byte(b.ProjectID)) == nil {
			return fmt.Errorf("project %s: %w", b.ProjectID, ErrNotFound)
		}
		var err error
		if b.Seq, err = tx.Bucket(bucketBuilds).NextSequence(); err != nil {
			return err
		}
		if err := tx.Bucket(bucketProjectBuilds).Put(buildIndexKey(b), nil); err != nil {
			return err
		}
		if err := rankAdd(tx, b.ProjectID, b.Seq, 1); err != nil {
			return err
		}
		if b.Status == BuildInProgress {
			if err := tx.Bucket(bucketProcessing).Put(processingKey(b), []byte{0}); err != nil {
				return err
			}
		}
		return put(tx.Bucket(bucketBuilds), []byte(b.ID), b)
	})
	if err != nil {
		return Build{}, err
	}
	return b, nil
}

// buildIndexKey orders a project's builds by creation; fixed-width hex
// keeps byte order equal to numeric order.
func buildIndexKey(b Build) []byte {
	return key(b.ProjectID, fmt.Sprintf("%016x", b.Seq), b.ID)
}

// Build returns the build with the given ID, or ErrNotFound.
func (s *Store) Build(id string) (Build, error) {
	var b Build
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketBuilds), []byte(id), &b)
	})
	return b, err
}

// UpdateBuild applies fn to the stored build in one transaction. ID,
// ProjectID and CreatedAt cannot be changed. It returns ErrNotFound if the
// build does not exist, or fn's error (and changes nothing). A build whose
// status becomes in_progress joins the processing queue, one that leaves it
// leaves the queue, in the same transaction.
func (s *Store) UpdateBuild(id string, fn func(*Build) error) (Build, error) {
	var b Build
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		b, err = updateBuild(tx, id, s.now(), fn)
		return err
	})
	return b, err
}

func updateBuild(tx *bolt.Tx, id string, now time.Time, fn func(*Build) error) (Build, error) {
	var b Build
	builds := tx.Bucket(bucketBuilds)
	if err := get(builds, []byte(id), &b); err != nil {
		return b, err
	}
	orig := b
	if err := fn(&b); err != nil {
		return b, err
	}
	b.ID, b.ProjectID, b.CreatedAt, b.Seq = orig.ID, orig.ProjectID, orig.CreatedAt, orig.Seq
	b.UpdatedAt = now.UTC()
	if b.Status == BuildInProgress && orig.Status != BuildInProgress {
		b.QueuedAt = b.UpdatedAt
	}
	if err := emitBuildChange(tx, now, orig, b); err != nil {
		return b, err
	}
	queue := tx.Bucket(bucketProcessing)
	var err error
	if b.Status == BuildInProgress {
		// Joining the queue, unless already in it (which would reset the
		// count of attempts).
		if k, _ := queue.Cursor().Seek(processingKey(b)); !bytes.Equal(k, processingKey(b)) {
			err = queue.Put(processingKey(b), []byte{0})
		}
	} else {
		err = queue.Delete(processingKey(b))
	}
	if err != nil {
		return b, err
	}
	return b, put(builds, []byte(id), b)
}

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

// MaxQueryScan bounds how many builds one QueryBuilds call with a filter
// reads: the newest ones. A project with more builds gets its filtered
// lists from its newest MaxQueryScan builds (and Truncated says so).
const MaxQueryScan = 100_000

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

// MaxSearchScan bounds how many builds one SearchBuilds call reads: a
// search in a large project answers a page at a time, each of bounded cost,
// and says where to go on.
const MaxSearchScan = 5000

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

// DeleteBuild deletes a build and all its files as DeleteFile does, in one
// transaction. It returns the deleted files and the checksums of the blobs
// that lost their last reference, for the caller to remove.
func (s *Store) DeleteBuild(id string) ([]File, []string, error) {
	var (
		deleted []File
		unused  []string
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		deleted, unused, err = s.deleteBuild(tx, id)
		return err
	})
	return deleted, unused, err
}

// DeleteBuilds deletes builds as DeleteBuild does, in one transaction:
// retention's, which would otherwise commit (and fsync) once a build. It
// returns how many of ids it deleted, in order: it stops after
// maxTime, leaving the rest to another call. A build already gone is
// counted as deleted.
func (s *Store) DeleteBuilds(ids []string, maxTime time.Duration) (done int, unused []string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		done, unused = 0, nil
		began := time.Now()
		for _, id := range ids {
			if done > 0 && time.Since(began) > maxTime {
				break
			}
			if tx.Bucket(bucketBuilds).Get([]byte(id)) != nil {
				_, u, err := s.deleteBuild(tx, id)
				if err != nil {
					return fmt.Errorf("build %s: %w", id, err)
				}
				unused = append(unused, u...)
			}
			done++
		}
		return nil
	})
	return done, unused, err
}

func (s *Store) deleteBuild(tx *bolt.Tx, id string) (deleted []File, unused []string, err error) {
	var b Build
	if err := get(tx.Bucket(bucketBuilds), []byte(id), &b); err != nil {
		return nil, nil, err
	}
	var ids []string
	forEachPrefix(tx.Bucket(bucketBuildFiles), id, func(fileID, _ []byte) bool {
		ids = append(ids, string(fileID))
		return true
	})
	for _, fid := range ids {
		f, last, err := deleteFile(tx, fid)
		if err != nil {
			return nil, nil, err
		}
		deleted = append(deleted, f)
		if last {
			unused = append(unused, f.Checksum)
		}
	}
	if err := tx.Bucket(bucketProjectBuilds).Delete(buildIndexKey(b)); err != nil {
		return nil, nil, err
	}
	if err := rankAdd(tx, b.ProjectID, b.Seq, -1); err != nil {
		return nil, nil, err
	}
	if err := tx.Bucket(bucketProcessing).Delete(processingKey(b)); err != nil {
		return nil, nil, err
	}
	if err := emit(tx, s.now(), b.ProjectID, Event{Type: EventBuildDeleted, Build: &b}); err != nil {
		return nil, nil, err
	}
	return deleted, unused, tx.Bucket(bucketBuilds).Delete([]byte(id))
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
