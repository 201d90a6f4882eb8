package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Feedback: a tester's report of a problem with a build, from its
// distribution's page: text, and screenshots stored as files of the build
// of type FileFeedback. The record is made in one transaction with its
// webhook event (feedback.received) and the mails to the workspace's
// members who asked for them (User.FeedbackMail).

// FileFeedback is the type of a feedback's screenshots.
const FileFeedback = "feedback"

// Feedback bounds.
const (
	MaxFeedbackText        = 4000
	MaxFeedbackScreenshots = 3
	// MaxFeedbackPerBuild bounds a build's reports.
	MaxFeedbackPerBuild = 1000
)

// Feedback is one report.
type Feedback struct {
	ID             string    `json:"id"`
	BuildID        string    `json:"buildId"`
	ProjectID      string    `json:"projectId"`
	DistributionID string    `json:"distributionId"`
	Tester         string    `json:"tester"` // an address, or a member's username
	Text           string    `json:"text"`
	FileIDs        []string  `json:"fileIds,omitempty"` // its screenshots
	Platform       string    `json:"platform,omitempty"`
	Model          string    `json:"model,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
}

// CreateFeedback stores a report of existing files and build, emits its
// event and queues compose's mail to each member of the workspace who
// asked for feedback by mail. ErrInvalid beyond the bounds.
func (s *Store) CreateFeedback(f Feedback, compose func(to string) Mail) (Feedback, error) {
	if len(f.Text) > MaxFeedbackText || len(f.FileIDs) > MaxFeedbackScreenshots || strings.TrimSpace(f.Text) == "" && len(f.FileIDs) == 0 {
		return Feedback{}, fmt.Errorf("%w: a report is text (at most %d bytes) and at most %d screenshots, not nothing", ErrInvalid, MaxFeedbackText, MaxFeedbackScreenshots)
	}
	now := s.now().UTC()
	f.ID, f.CreatedAt = NewID(), now
	err := s.db.Update(func(tx *bolt.Tx) error {
		var b Build
		if err := get(tx.Bucket(bucketBuilds), []byte(f.BuildID), &b); err != nil {
			return err
		}
		var p Project
		if err := get(tx.Bucket(bucketProjects), []byte(b.ProjectID), &p); err != nil {
			return err
		}
		f.ProjectID = b.ProjectID
		fb := tx.Bucket(bucketFeedback)
		if countPrefix(fb, f.BuildID) >= MaxFeedbackPerBuild {
			return fmt.Errorf("%w: this build has %d reports already", ErrInvalid, MaxFeedbackPerBuild)
		}
		seq, err := fb.NextSequence()
		if err != nil {
			return err
		}
		if err := put(fb, key(f.BuildID, fmt.Sprintf("%016x", seq)), f); err != nil {
			return err
		}
		snapshot := b
		if err := emit(tx, now, b.ProjectID, Event{Type: EventFeedbackReceived, Build: &snapshot, Feedback: &f}); err != nil {
			return err
		}
		if compose == nil {
			return nil
		}
		users := tx.Bucket(bucketUsers)
		return users.ForEach(func(_, v []byte) error {
			var u User
			if getRaw(v, &u) != nil || u.Email == "" || u.Disabled || !slices.Contains(u.FeedbackMail, p.WorkspaceID) {
				return nil
			}
			if _, member := u.Memberships[p.WorkspaceID]; !member && !u.Admin {
				return nil
			}
			if err := s.queueMail(tx, compose(u.Email)); err != nil && err != ErrMailDropped {
				return err
			}
			return nil
		})
	})
	return f, err
}

// FeedbackOf returns a build's reports, newest first.
func (s *Store) FeedbackOf(buildID string) ([]Feedback, error) {
	out := []Feedback{}
	err := s.db.View(func(tx *bolt.Tx) error {
		forEachPrefix(tx.Bucket(bucketFeedback), buildID, func(_, v []byte) bool {
			var f Feedback
			if getRaw(v, &f) == nil {
				out = append(out, f)
			}
			return true
		})
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// SetFeedbackMail says whether a user is mailed a workspace's feedback.
func (s *Store) SetFeedbackMail(userID, workspaceID string, on bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		var u User
		if err := get(users, []byte(userID), &u); err != nil {
			return err
		}
		u.FeedbackMail = slices.DeleteFunc(u.FeedbackMail, func(ws string) bool { return ws == workspaceID })
		if on {
			u.FeedbackMail = append(u.FeedbackMail, workspaceID)
		}
		return put(users, []byte(userID), u)
	})
}
