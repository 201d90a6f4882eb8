package store

import (
	"bytes"
	"cmp"
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
	// PackageVersion and PackageBuild are what the package itself says
	// (CFBundleShortVersionString and CFBundleVersion; versionName and
	// versionCode), whatever the upload labelled it (VersionName,
	// VersionCode): what a phone reads comes from these.
	PackageVersion string `json:"packageVersion,omitempty"`
	PackageBuild   string `json:"packageBuild,omitempty"`
	// Mandatory: a release testers are told to install (App Center's
	// mandatory_update).
	Mandatory bool `json:"mandatory,omitempty"`
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
		deleted, unused, err = s.deleteBuild(tx, id, nil)
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
				_, u, err := s.deleteBuild(tx, id, map[string]any{"reason": "retention"})
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

func (s *Store) deleteBuild(tx *bolt.Tx, id string, details map[string]any) (deleted []File, unused []string, err error) {
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
	if err := deleteInstallsOf(tx, installByBuild(b.ID)); err != nil {
		return nil, nil, err
	}
	if err := deletePrefix(tx.Bucket(bucketFeedback), b.ID); err != nil {
		return nil, nil, err
	}
	if err := emit(tx, s.now(), b.ProjectID, Event{Type: EventBuildDeleted, Build: &b}); err != nil {
		return nil, nil, err
	}
	var p Project
	if err := get(tx.Bucket(bucketProjects), []byte(b.ProjectID), &p); err != nil {
		return nil, nil, err
	}
	if details == nil {
		details = map[string]any{}
	}
	details["project"], details["version"], details["files"] = p.Slug, cmp.Or(b.VersionName, b.VersionCode), len(deleted)
	if err := s.record(tx, AuditBuildDeleted, AuditTarget{Kind: "build", ID: b.ID, Name: b.VersionName}, p.WorkspaceID, details); err != nil {
		return nil, nil, err
	}
	return deleted, unused, tx.Bucket(bucketBuilds).Delete([]byte(id))
}

// EditBuild sets a build's tags and release notes (nil: unchanged), as a
// member edits them after upload, recording what changed. Distributions
// that filter on tags follow at once: they read tags when they show.
func (s *Store) EditBuild(id string, tags []string, notes *string) (Build, error) {
	var b Build
	err := s.db.Update(func(tx *bolt.Tx) error {
		var orig Build
		if err := get(tx.Bucket(bucketBuilds), []byte(id), &orig); err != nil {
			return err
		}
		var err error
		b, err = updateBuild(tx, id, s.now(), func(b *Build) error {
			if tags != nil {
				b.Tags = tags
			}
			if notes != nil {
				b.Notes = *notes
			}
			return nil
		})
		if err != nil {
			return err
		}
		diff := map[string]any{}
		if !slices.Equal(orig.Tags, b.Tags) {
			diff["tags"] = [][]string{orig.Tags, b.Tags}
		}
		if orig.Notes != b.Notes {
			diff["notes"] = "changed"
		}
		if len(diff) == 0 {
			return nil
		}
		var p Project
		if err := get(tx.Bucket(bucketProjects), []byte(b.ProjectID), &p); err != nil {
			return err
		}
		return s.record(tx, AuditBuildChanged, AuditTarget{Kind: "build", ID: b.ID, Name: b.VersionName}, p.WorkspaceID, diff)
	})
	return b, err
}
