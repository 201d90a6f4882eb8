package store

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Webhooks: signed notifications of what changes. An event is written, as
// one delivery per subscribed webhook, in the same transaction as the
// change that caused it (see emit), so that a crash can neither record a
// build without its event nor an event without its build. A worker (package
// webhook) sends each webhook's deliveries in order and records every
// attempt here.

// Webhook formats.
const (
	FormatJSON  = "json"  // Hangar's documented event object
	FormatSlack = "slack" // {"text": …}: Slack, Mattermost, Teams incoming webhooks
)

// Webhook is a receiver of a workspace's events: of one project, or of all
// (ProjectID "").
type Webhook struct {
	ID          string   `json:"id"`
	WorkspaceID string   `json:"workspaceId"`
	ProjectID   string   `json:"projectId,omitempty"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Format      string   `json:"format"`
	// Secret signs every delivery. It is kept as it is (it must be, to
	// sign), like the URL-signing keys, and shown once.
	Secret         string    `json:"secret"`
	Active         bool      `json:"active"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	FailingSince   time.Time `json:"failingSince,omitzero"` // the first failure since the last success
	Pending        int       `json:"pending"`               // deliveries not yet delivered or given up
	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy,omitempty"`
}

// Subscribed reports whether w wants events of type t.
func (w Webhook) Subscribed(t string) bool { return slices.Contains(w.Events, t) }

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // given up after the retry window
)

// Delivery is one event for one webhook, and every attempt to send it.
type Delivery struct {
	ID          string    `json:"id"` // the same on every retry: X-Hangar-Delivery
	WebhookID   string    `json:"webhookId"`
	Seq         uint64    `json:"seq"`
	Event       Event     `json:"event"`
	State       string    `json:"state"`
	Attempts    []Attempt `json:"attempts"` // the latest maxAttemptsKept
	Tries       int       `json:"tries"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Attempt is one try at sending a delivery.
type Attempt struct {
	Time      time.Time `json:"time"`
	Status    int       `json:"status,omitempty"` // the receiver's HTTP status, 0 if none
	LatencyMS int64     `json:"latencyMs"`
	Error     string    `json:"error,omitempty"`
}

const (
	// MaxPending bounds a webhook's undelivered deliveries: beyond it the
	// webhook is disabled (with the reason) rather than the outbox grown.
	MaxPending = 10_000
	// keepDone is how many delivered or failed deliveries a webhook keeps
	// for its log; older ones are pruned as new ones finish.
	keepDone        = 200
	maxAttemptsKept = 20
)

func scopeKey(w Webhook) []byte {
	return key(w.WorkspaceID, cmp.Or(w.ProjectID, "*"), w.ID)
}

func deliveryKey(webhookID string, seq uint64) []byte {
	return key(webhookID, fmt.Sprintf("%016x", seq))
}

// NewWebhookSecret makes a webhook's signing secret: 256 random bits.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// CreateWebhook stores a new, active webhook with a new secret. Its
// workspace (and project, if set) must exist.
func (s *Store) CreateWebhook(w Webhook) (Webhook, error) {
	w.ID, w.Secret, w.Active, w.CreatedAt, w.Pending = NewID(), NewWebhookSecret(), true, s.now().UTC(), 0
	w.DisabledReason, w.FailingSince = "", time.Time{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketWorkspaces).Get([]byte(w.WorkspaceID)) == nil {
			return fmt.Errorf("workspace %s: %w", w.WorkspaceID, ErrNotFound)
		}
		if w.ProjectID != "" {
			var p Project
			if err := get(tx.Bucket(bucketProjects), []byte(w.ProjectID), &p); err != nil || p.WorkspaceID != w.WorkspaceID {
				return fmt.Errorf("project %s: %w", w.ProjectID, ErrNotFound)
			}
		}
		if err := tx.Bucket(bucketWebhookScope).Put(scopeKey(w), nil); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketWebhooks), []byte(w.ID), w); err != nil {
			return err
		}
		return s.record(tx, AuditWebhookCreated, webhookTarget(w), w.WorkspaceID,
			map[string]any{"project": w.ProjectID, "events": w.Events, "format": w.Format})
	})
	return w, err
}

// Webhook returns a webhook, or ErrNotFound.
func (s *Store) Webhook(id string) (Webhook, error) {
	var w Webhook
	err := s.db.View(func(tx *bolt.Tx) error { return get(tx.Bucket(bucketWebhooks), []byte(id), &w) })
	return w, err
}

// Webhooks returns a workspace's webhooks of one project (projectID "*":
// the workspace-wide ones; "": all of them).
func (s *Store) Webhooks(workspaceID, projectID string) ([]Webhook, error) {
	out := []Webhook{}
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := workspaceID
		if projectID != "" {
			prefix = string(key(workspaceID, projectID))
		}
		var err error
		list := []Webhook{}
		forEachPrefix(tx.Bucket(bucketWebhookScope), prefix, func(suffix, _ []byte) bool {
			id := suffix[bytes.LastIndexByte(suffix, '/')+1:]
			var w Webhook
			if err = get(tx.Bucket(bucketWebhooks), id, &w); err != nil {
				return false
			}
			list = append(list, w)
			return true
		})
		out = list
		return err
	})
	return out, err
}

// AllWebhooks returns every webhook, for the delivery worker.
func (s *Store) AllWebhooks() ([]Webhook, error) {
	var out []Webhook
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[Webhook](tx, bucketWebhooks, keys(tx.Bucket(bucketWebhooks)))
		return err
	})
	return out, err
}

// UpdateWebhook applies fn to a webhook; its ID, scope, secret, counts and
// creation stay. Turning it active again clears its failure.
func (s *Store) UpdateWebhook(id string, fn func(*Webhook) error) (Webhook, error) {
	var w Webhook
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		var orig Webhook
		if err := get(b, []byte(id), &orig); err != nil {
			return err
		}
		w = orig
		if err := fn(&w); err != nil {
			return err
		}
		w.ID, w.WorkspaceID, w.ProjectID, w.Secret, w.Pending, w.CreatedAt, w.CreatedBy =
			orig.ID, orig.WorkspaceID, orig.ProjectID, orig.Secret, orig.Pending, orig.CreatedAt, orig.CreatedBy
		if w.Active && !orig.Active {
			w.DisabledReason, w.FailingSince = "", time.Time{}
		}
		if err := put(b, []byte(id), w); err != nil {
			return err
		}
		// A chat service's webhook URL is a credential (its path is the
		// secret): the log says that it changed and its new host.
		diff := changes(orig, w, []string{"disabledReason", "failingSince"}, []string{"url"})
		if len(diff) == 0 {
			return nil
		}
		if _, ok := diff["url"]; ok {
			diff["host"] = webhookTarget(w).Name
		}
		return s.record(tx, AuditWebhookChanged, webhookTarget(w), w.WorkspaceID, diff)
	})
	return w, err
}

// DeleteWebhook removes a webhook and its deliveries.
func (s *Store) DeleteWebhook(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var w Webhook
		if err := get(tx.Bucket(bucketWebhooks), []byte(id), &w); err != nil {
			return err
		}
		if err := tx.Bucket(bucketWebhookScope).Delete(scopeKey(w)); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket(bucketDeliveries), id); err != nil {
			return err
		}
		if err := s.record(tx, AuditWebhookDeleted, webhookTarget(w), w.WorkspaceID, nil); err != nil {
			return err
		}
		return tx.Bucket(bucketWebhooks).Delete([]byte(id))
	})
}

// NextDelivery returns a webhook's oldest pending delivery: its deliveries
// go out in order, each after the one before has been delivered or given
// up. ok is false when none is pending.
func (s *Store) NextDelivery(webhookID string) (d Delivery, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		var derr error
		forEachPrefix(tx.Bucket(bucketDeliveries), webhookID, func(_, v []byte) bool {
			var x Delivery
			if derr = json.Unmarshal(v, &x); derr != nil {
				return false
			}
			if x.State == DeliveryPending {
				d, ok = x, true
				return false
			}
			return true
		})
		return derr
	})
	return d, ok, err
}

// Deliveries returns a webhook's deliveries, newest first, a page at a time.
func (s *Store) Deliveries(webhookID string, p Page) ([]Delivery, string, error) {
	out := []Delivery{}
	var next string
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c := tx.Bucket(bucketDeliveries).Cursor()
		prefix := key(webhookID, "")
		// A webhook keeps a bounded number of deliveries: an offset walks.
		offset := func() []byte {
			k, _, _ := pageFrom(c, prefix, Page{}, nil)
			for i := 0; k != nil && i < p.Offset; i++ {
				if k, _ = c.Prev(); k != nil && !bytes.HasPrefix(k, prefix) {
					k = nil
				}
			}
			return k
		}
		next, err = walkPage(c, prefix, p, offset, func(_, v []byte) error {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
		return err
	})
	return out, next, err
}

// Outcome is what the worker reports of one attempt.
type Outcome struct {
	Attempt   Attempt
	Delivered bool
	// Next is when to try again; zero: give up (the retry window is over).
	Next time.Time
	// Disable, when set, turns the webhook off with this reason.
	Disable string
}

// RecordAttempt records an attempt at a pending delivery and its outcome:
// delivered, retried at o.Next, or given up. The webhook's failure clock
// starts at its first failure and clears at a success; old finished
// deliveries beyond keepDone are pruned.
func (s *Store) RecordAttempt(webhookID string, seq uint64, o Outcome) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		deliveries, hooks := tx.Bucket(bucketDeliveries), tx.Bucket(bucketWebhooks)
		var d Delivery
		if err := get(deliveries, deliveryKey(webhookID, seq), &d); err != nil {
			return err
		}
		var w Webhook
		if err := get(hooks, []byte(webhookID), &w); err != nil {
			return err
		}
		if d.State != DeliveryPending {
			return nil // redelivered or finished meanwhile
		}
		d.Tries++
		d.Attempts = append(d.Attempts, o.Attempt)
		if len(d.Attempts) > maxAttemptsKept {
			d.Attempts = d.Attempts[len(d.Attempts)-maxAttemptsKept:]
		}
		switch {
		case o.Delivered:
			d.State, d.NextAttempt = DeliveryDelivered, time.Time{}
			w.FailingSince = time.Time{}
		case o.Next.IsZero():
			d.State, d.NextAttempt = DeliveryFailed, time.Time{}
		default:
			d.NextAttempt = o.Next.UTC()
		}
		if !o.Delivered && w.FailingSince.IsZero() {
			w.FailingSince = o.Attempt.Time.UTC()
		}
		if d.State != DeliveryPending {
			w.Pending = max(0, w.Pending-1)
		}
		if o.Disable != "" && w.Active {
			w.Active, w.DisabledReason = false, o.Disable
		}
		if err := put(deliveries, deliveryKey(webhookID, seq), d); err != nil {
			return err
		}
		if err := put(hooks, []byte(webhookID), w); err != nil {
			return err
		}
		if d.State != DeliveryPending {
			return pruneDeliveries(deliveries, webhookID)
		}
		return nil
	})
}

// pruneDeliveries keeps a webhook's newest keepDone finished deliveries.
func pruneDeliveries(b *bolt.Bucket, webhookID string) error {
	var done [][]byte
	forEachPrefix(b, webhookID, func(suffix, v []byte) bool {
		var d Delivery
		if json.Unmarshal(v, &d) == nil && d.State != DeliveryPending {
			done = append(done, key(webhookID, string(suffix)))
		}
		return true
	})
	for _, k := range done[:max(0, len(done)-keepDone)] {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Redeliver queues a delivery again, as a new delivery with the same ID
// and event at the end of the webhook's queue (so that order holds).
func (s *Store) Redeliver(webhookID, deliveryID string) (Delivery, error) {
	var d Delivery
	err := s.db.Update(func(tx *bolt.Tx) error {
		deliveries, hooks := tx.Bucket(bucketDeliveries), tx.Bucket(bucketWebhooks)
		var w Webhook
		if err := get(hooks, []byte(webhookID), &w); err != nil {
			return err
		}
		found := false
		forEachPrefix(deliveries, webhookID, func(_, v []byte) bool {
			var x Delivery
			if json.Unmarshal(v, &x) == nil && x.ID == deliveryID {
				d, found = x, true
				return false
			}
			return true
		})
		if !found {
			return ErrNotFound
		}
		if d.State == DeliveryPending {
			return nil // already queued
		}
		seq, err := deliveries.NextSequence()
		if err != nil {
			return err
		}
		now := s.now().UTC()
		d.Seq, d.State, d.Attempts, d.Tries, d.NextAttempt, d.CreatedAt = seq, DeliveryPending, []Attempt{}, 0, now, now
		w.Pending++
		if err := put(deliveries, deliveryKey(webhookID, seq), d); err != nil {
			return err
		}
		return put(hooks, []byte(webhookID), w)
	})
	return d, err
}

// webhookTarget names a webhook by its receiver's host: the rest of its
// URL may be a credential.
func webhookTarget(w Webhook) AuditTarget {
	host := ""
	if u, err := url.Parse(w.URL); err == nil {
		host = u.Host
	}
	return AuditTarget{Kind: "webhook", ID: w.ID, Name: host}
}
