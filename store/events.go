package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Events: which change emits which webhook event. Each is written by the
// store inside the transaction of the change it reports (see emit), so
// that every front (the APIs, the console, the command line, background
// work) emits it without knowing about webhooks, and a crash can record
// neither a change without its event nor an event without its change.
//
//	change                                          call                    event
//	an upload ended (pending → in_progress etc.)    UpdateBuild             build.created
//	processing read the package                     UpdateBuild             build.processed, and
//	                                                                        distribution.updated for each
//	                                                                        distribution it now heads
//	processing failed                               UpdateBuild             build.failed
//	a build deleted (by a member or retention)      DeleteBuild(s)          build.deleted
//	a public link created                           CreateLink              link.created
//	a link's last allowed download                  UseLink, UseUnlockedLink link.limit_reached
//	a tester's report from a distribution's page    CreateFeedback          feedback.received

// Event types.
const (
	EventBuildCreated        = "build.created"
	EventBuildProcessed      = "build.processed"
	EventBuildFailed         = "build.failed"
	EventBuildDeleted        = "build.deleted"
	EventLinkCreated         = "link.created"
	EventLinkLimitReached    = "link.limit_reached"
	EventDistributionUpdated = "distribution.updated"
	EventFeedbackReceived    = "feedback.received"
)

// EventTypes lists every event type, in a stable order.
var EventTypes = []string{EventBuildCreated, EventBuildProcessed, EventBuildFailed, EventBuildDeleted,
	EventLinkCreated, EventLinkLimitReached, EventDistributionUpdated, EventFeedbackReceived}

// Event is what happened, with the state of what it happened to at that
// moment. URLs are added when it is sent.
type Event struct {
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	Time         time.Time     `json:"time"`
	WorkspaceID  string        `json:"workspaceId"`
	ProjectID    string        `json:"projectId"`
	Build        *Build        `json:"build,omitempty"`
	Link         *PublicLink   `json:"link,omitempty"`
	Distribution *Distribution `json:"distribution,omitempty"`
	// Notify is what an upload asked to tell people (Applivery's notify
	// fields), for build.created.
	Notify *Notify `json:"notify,omitempty"`
	// Feedback is a tester's report, for feedback.received.
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Notify is Applivery's notification request on an upload.
type Notify struct {
	Collaborators bool   `json:"collaborators,omitempty"`
	Employees     bool   `json:"employees,omitempty"`
	Message       string `json:"message,omitempty"`
}

// emitBuildChange records the events of a build's change of status: created
// (its upload ended), processed (and each distribution it now heads),
// failed.
func emitBuildChange(tx *bolt.Tx, now time.Time, orig, b Build) error {
	snapshot := b
	var evs []Event
	if orig.Status == BuildPending && b.Status != BuildPending {
		evs = append(evs, Event{Type: EventBuildCreated, Build: &snapshot, Notify: b.Notify})
	}
	switch {
	case b.Status == BuildProcessed && orig.Status != BuildProcessed:
		evs = append(evs, Event{Type: EventBuildProcessed, Build: &snapshot})
		var p Project
		if err := get(tx.Bucket(bucketProjects), []byte(b.ProjectID), &p); err != nil {
			return err
		}
		dists, err := list[Distribution](tx, bucketDistributions, prefixed(tx.Bucket(bucketDistSlugs), p.WorkspaceID, false))
		if err != nil {
			return err
		}
		var headed []Distribution
		for _, d := range dists {
			if d.ProjectID == b.ProjectID && !d.Inactive() && heads(tx, d, b) {
				headed = append(headed, d)
				evs = append(evs, Event{Type: EventDistributionUpdated, Build: &snapshot, Distribution: &d})
			}
		}
		if err := queueNotifications(tx, now, b, p.WorkspaceID, headed); err != nil {
			return err
		}
	case b.Status == BuildError && orig.Status != BuildError:
		evs = append(evs, Event{Type: EventBuildFailed, Build: &snapshot})
	}
	if len(evs) == 0 {
		return nil
	}
	return emit(tx, now, b.ProjectID, evs...)
}

// emitLinkEvent records an event of link l, with its build.
func emitLinkEvent(tx *bolt.Tx, now time.Time, typ string, l PublicLink) error {
	var b Build
	if err := get(tx.Bucket(bucketBuilds), []byte(l.BuildID), &b); err != nil {
		return err
	}
	return emit(tx, now, b.ProjectID, Event{Type: typ, Link: &l, Build: &b})
}

// emit records events of a project for every active webhook of its
// workspace that wants them, in the caller's transaction, each webhook
// read and written once. A webhook whose outbox is full is disabled
// instead.
func emit(tx *bolt.Tx, now time.Time, projectID string, evs ...Event) error {
	var p Project
	if err := get(tx.Bucket(bucketProjects), []byte(projectID), &p); err != nil {
		return err
	}
	var ids [][]byte
	for _, scope := range []string{projectID, "*"} {
		forEachPrefix(tx.Bucket(bucketWebhookScope), string(key(p.WorkspaceID, scope)), func(id, _ []byte) bool {
			ids = append(ids, bytes.Clone(id))
			return true
		})
	}
	if len(ids) == 0 {
		return nil // the common case: nothing to write
	}
	for i := range evs {
		evs[i] = eventOf(evs[i], now, p)
	}
	hooks, deliveries := tx.Bucket(bucketWebhooks), tx.Bucket(bucketDeliveries)
	for _, id := range ids {
		var w Webhook
		if err := get(hooks, id, &w); err != nil {
			return err
		}
		changed := false
		for _, ev := range evs {
			if !w.Active || !w.Subscribed(ev.Type) {
				continue
			}
			changed = true
			if w.Pending >= MaxPending {
				w.Active, w.DisabledReason = false, fmt.Sprintf("disabled at %s: more than %d events could not be delivered", now.UTC().Format(time.RFC3339), MaxPending)
				break
			}
			seq, err := deliveries.NextSequence()
			if err != nil {
				return err
			}
			d := Delivery{ID: NewID(), WebhookID: w.ID, Seq: seq, Event: ev, State: DeliveryPending,
				Attempts: []Attempt{}, NextAttempt: now.UTC(), CreatedAt: now.UTC()}
			if err := put(deliveries, deliveryKey(w.ID, seq), d); err != nil {
				return err
			}
			w.Pending++
		}
		if changed {
			if err := put(hooks, id, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// eventOf completes an event as it is recorded: its ID (the same for every
// webhook; each delivery has its own), time and scope, and no password
// hash.
func eventOf(ev Event, now time.Time, p Project) Event {
	ev.ID, ev.Time, ev.WorkspaceID, ev.ProjectID = NewID(), now.UTC(), p.WorkspaceID, p.ID
	if d := ev.Distribution; d != nil {
		clean := *d
		clean.PasswordHash = "" // never leaves the store
		ev.Distribution = &clean
	}
	if l := ev.Link; l != nil {
		clean := *l
		clean.PasswordHash = ""
		ev.Link = &clean
	}
	return ev
}
