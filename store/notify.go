package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Notifications: mail to people when a build is ready for them. When a
// build becomes the one a distribution shows (processed, matching its
// filter, the newest that does), the transaction that says so queues a
// job for the distribution's groups if its notify setting (or, for "ask",
// the upload) wants one; an upload that asked Applivery's
// notifyCollaborators queues one for the workspace's members. A job is
// turned into mails later, in one transaction each (RunNotifyJob): its
// recipients as they are then, less those who unsubscribed, within the
// workspace's hourly cap. A distribution mails about a build at most once
// (a build processed again is not news).

// Notification job kinds.
const (
	NotifyTesters = "testers" // a distribution's groups
	NotifyMembers = "members" // the workspace's members (notifyCollaborators)
)

// NotifyJob is a notification waiting to be mailed.
type NotifyJob struct {
	Kind           string    `json:"kind"`
	BuildID        string    `json:"buildId"`
	DistributionID string    `json:"distributionId,omitempty"`
	WorkspaceID    string    `json:"workspaceId"`
	Message        string    `json:"message,omitempty"` // notifyMessage
	CreatedAt      time.Time `json:"createdAt"`
}

// notifyRate is a workspace's count of notification mails in the hour
// from Since, and of those the cap held back.
type notifyRate struct {
	Since time.Time `json:"since"`
	Count int       `json:"count"`
	Over  int       `json:"over"`
}

// NotifySentTTL is how long a distribution remembers that it mailed about
// a build.
const NotifySentTTL = 90 * 24 * time.Hour

// queueNotifications queues the jobs of build b's processing, in its
// transaction: heads are the distributions it now heads.
func queueNotifications(tx *bolt.Tx, now time.Time, b Build, wsID string, heads []Distribution) error {
	var jobs []NotifyJob
	var msg string
	asked := b.Notify != nil && b.Notify.Employees
	if b.Notify != nil {
		msg = b.Notify.Message
	}
	sent := tx.Bucket(bucketNotifySent)
	for _, d := range heads {
		want := d.Notify == NotifyAlways || (d.Notify == "" || d.Notify == NotifyAsk) && asked
		k := key(d.ID, b.ID)
		if !want || len(d.Groups) == 0 || sent.Get(k) != nil {
			continue
		}
		if err := sent.Put(k, []byte(now.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		jobs = append(jobs, NotifyJob{Kind: NotifyTesters, BuildID: b.ID, DistributionID: d.ID, WorkspaceID: wsID, Message: msg, CreatedAt: now.UTC()})
	}
	if b.Notify != nil && b.Notify.Collaborators {
		k := key("members", b.ID)
		if sent.Get(k) == nil {
			if err := sent.Put(k, []byte(now.UTC().Format(time.RFC3339))); err != nil {
				return err
			}
			jobs = append(jobs, NotifyJob{Kind: NotifyMembers, BuildID: b.ID, WorkspaceID: wsID, Message: msg, CreatedAt: now.UTC()})
		}
	}
	q := tx.Bucket(bucketNotifyJobs)
	for _, j := range jobs {
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		if err := put(q, u64(seq), j); err != nil {
			return err
		}
	}
	return nil
}

// heads reports whether build b is the newest build of its project that
// d's filter matches: no newer one matches (a bounded look back from the
// newest; beyond MaxSearchScan newer builds it says no).
func heads(tx *bolt.Tx, d Distribution, b Build) bool {
	q := d.Query()
	if !q.Matches(b) {
		return false
	}
	prefix := key(b.ProjectID, "")
	own := buildIndexKey(b)
	c := tx.Bucket(bucketProjectBuilds).Cursor()
	k, _ := c.Seek(append(bytes.Clone(prefix), 0xff))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	builds := tx.Bucket(bucketBuilds)
	for n := 0; k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, own) > 0; k, _ = c.Prev() {
		if n++; n > MaxSearchScan {
			return false
		}
		nb, err := indexedBuild(builds, k[len(prefix):])
		if err == nil && q.Matches(nb) {
			return false
		}
	}
	return true
}

// NotifyJobs returns up to max waiting jobs with their keys, oldest first.
func (s *Store) NotifyJobs(max int) (keys []uint64, jobs []NotifyJob, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketNotifyJobs).Cursor()
		for k, v := c.First(); k != nil && len(jobs) < max; k, v = c.Next() {
			var j NotifyJob
			if err := getRaw(v, &j); err != nil {
				return err
			}
			keys, jobs = append(keys, u64key(k)), append(jobs, j)
		}
		return nil
	})
	return keys, jobs, err
}

// Notice is what a notification mail is about, for its composer.
type Notice struct {
	Job          NotifyJob
	Build        Build
	Project      Project
	Workspace    Workspace
	Distribution Distribution // NotifyTesters
}

// NotifyResult counts what a job became.
type NotifyResult struct {
	Queued  int // mails queued
	OverCap int // held back by the workspace's hourly cap
	Dropped int // refused by the outbox (full, or the recipient mailed too often)
}

// RunNotifyJob turns job key into mails, in one transaction: compose
// makes the mail to each recipient (the distribution's group members, or
// the workspace's members with an address), less those who unsubscribed
// from it, at most perHour a workspace per hour (the rest are counted,
// for the console to report). The job is then gone; a job whose build or
// distribution is gone is dropped.
func (s *Store) RunNotifyJob(key uint64, perHour int, compose func(n Notice, to string) Mail) (NotifyResult, error) {
	var res NotifyResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketNotifyJobs)
		var j NotifyJob
		if err := get(q, u64(key), &j); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		if err := q.Delete(u64(key)); err != nil {
			return err
		}
		n := Notice{Job: j}
		if get(tx.Bucket(bucketBuilds), []byte(j.BuildID), &n.Build) != nil ||
			get(tx.Bucket(bucketProjects), []byte(n.Build.ProjectID), &n.Project) != nil ||
			get(tx.Bucket(bucketWorkspaces), []byte(j.WorkspaceID), &n.Workspace) != nil {
			return nil // deleted since
		}
		var to []string
		scope := "w:" + j.WorkspaceID
		switch j.Kind {
		case NotifyTesters:
			if get(tx.Bucket(bucketDistributions), []byte(j.DistributionID), &n.Distribution) != nil || n.Distribution.Inactive() {
				return nil
			}
			scope = n.Distribution.ID
			to = groupAddresses(tx, j.WorkspaceID, n.Distribution.Groups)
		case NotifyMembers:
			to = memberAddresses(tx, j.WorkspaceID)
		}
		rates := tx.Bucket(bucketNotifyRate)
		var rate notifyRate
		if err := get(rates, []byte(j.WorkspaceID), &rate); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.now().UTC()
		if now.Sub(rate.Since) >= time.Hour {
			rate = notifyRate{Since: now}
		}
		optOut := tx.Bucket(bucketNotifyOptOut)
		for _, addr := range to {
			if optOut.Get(optOutKey(scope, addr)) != nil {
				continue
			}
			if rate.Count >= perHour {
				rate.Over++
				res.OverCap++
				continue
			}
			err := s.queueMail(tx, compose(n, addr))
			switch {
			case errors.Is(err, ErrMailDropped):
				res.Dropped++
			case err != nil:
				return err
			default:
				rate.Count++
				res.Queued++
			}
		}
		return put(rates, []byte(j.WorkspaceID), rate)
	})
	return res, err
}

// groupAddresses are the members of a workspace's groups, each once.
func groupAddresses(tx *bolt.Tx, wsID string, groups []string) []string {
	seen := map[string]bool{}
	var out []string
	slugs, gs := tx.Bucket(bucketTesterGroupSlugs), tx.Bucket(bucketTesterGroups)
	for _, slug := range groups {
		id := slugs.Get(key(wsID, slug))
		var g TesterGroup
		if id == nil || get(gs, id, &g) != nil {
			continue
		}
		for _, m := range g.Members {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// memberAddresses are the addresses of a workspace's users who can sign in.
func memberAddresses(tx *bolt.Tx, wsID string) []string {
	var out []string
	users := tx.Bucket(bucketUsers)
	users.ForEach(func(k, v []byte) error {
		var u User
		if getRaw(v, &u) == nil && u.Email != "" && !u.Disabled {
			if _, ok := u.Memberships[wsID]; ok {
				out = append(out, strings.ToLower(u.Email))
			}
		}
		return nil
	})
	return out
}

// NotifyOverflow returns how many notification mails a workspace's hourly
// cap held back this hour, and since when it counts.
func (s *Store) NotifyOverflow(wsID string) (int, time.Time, error) {
	var rate notifyRate
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketNotifyRate), []byte(wsID), &rate)
	})
	if errors.Is(err, ErrNotFound) || s.now().Sub(rate.Since) >= time.Hour {
		return 0, time.Time{}, nil
	}
	return rate.Over, rate.Since, err
}

// optOutKey keeps who unsubscribed from a scope (a distribution's ID, or
// "w:" and a workspace's) by the SHA-256 of their address: the table
// needs to recognise an address, not to list them.
func optOutKey(scope, addr string) []byte {
	return key(scope, AddressDigest(addr))
}

// AddressDigest is the hex SHA-256 of a lower-cased address, which is
// what an unsubscribe link carries instead of the address.
func AddressDigest(addr string) string {
	h := sha256.Sum256([]byte(strings.ToLower(addr)))
	return hex.EncodeToString(h[:16])
}

// SetOptOut unsubscribes (or, with out false, subscribes again) the
// address of digest from a scope's notifications.
func (s *Store) SetOptOut(scope, digest string, out bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		k := key(scope, digest)
		if out {
			return tx.Bucket(bucketNotifyOptOut).Put(k, []byte(s.now().UTC().Format(time.RFC3339)))
		}
		return tx.Bucket(bucketNotifyOptOut).Delete(k)
	})
}

// OptedOut reports whether the address of digest unsubscribed from scope.
func (s *Store) OptedOut(scope, digest string) bool {
	out := false
	s.db.View(func(tx *bolt.Tx) error {
		out = tx.Bucket(bucketNotifyOptOut).Get(key(scope, digest)) != nil
		return nil
	})
	return out
}

// DropNotifyJob forgets a job unsent (there is no mail to send it with).
func (s *Store) DropNotifyJob(key uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNotifyJobs).Delete(u64(key)) })
}

// NotifyNow queues a distribution's mail to its groups about a build, as
// asked (App Center's notify_testers), unless it mailed about the build
// already; it reports whether it queued one.
func (s *Store) NotifyNow(distID, buildID string) (bool, error) {
	queued := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		var d Distribution
		if err := get(tx.Bucket(bucketDistributions), []byte(distID), &d); err != nil {
			return err
		}
		sent := tx.Bucket(bucketNotifySent)
		k := key(d.ID, buildID)
		if sent.Get(k) != nil || len(d.Groups) == 0 {
			return nil
		}
		now := s.now().UTC()
		if err := sent.Put(k, []byte(now.Format(time.RFC3339))); err != nil {
			return err
		}
		q := tx.Bucket(bucketNotifyJobs)
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		queued = true
		return put(q, u64(seq), NotifyJob{Kind: NotifyTesters, BuildID: buildID, DistributionID: d.ID, WorkspaceID: d.WorkspaceID, CreatedAt: now})
	})
	return queued, err
}
