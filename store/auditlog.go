package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// The audit log: who changed who can do what, and every destructive
// action. Each entry is written by the store in the transaction of the
// change it records (record), so that no front can change rights without
// leaving one and a crash cannot keep one without the other. The actor is
// the Store's: s.As(actor) returns a view of the store that records as that
// actor; the bare Store records as the system (background work, the
// command line on a stopped server). Nothing deletes an entry but
// retention (PruneAuditLog).

// Actor kinds.
const (
	ActorUser           = "user"
	ActorServiceAccount = "service_account"
	ActorAppToken       = "app_token"
	ActorSystem         = "system"    // background work, the command line
	ActorAnonymous      = "anonymous" // not signed in: a failed sign-in, an invitee
)

// Actor is who made a change, and from where.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// ClientIP is the address the request came from (after trusted
	// proxies); empty for the system.
	ClientIP string `json:"-"`
}

// System is the actor of background work and of the command line.
var System = Actor{Kind: ActorSystem, Name: "system"}

// AuditTarget is what a change was made to.
type AuditTarget struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// AuditEntry is one recorded change. Details hold the values that matter
// to it (a role before and after, a link's expiry), never a secret.
type AuditEntry struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Actor     Actor          `json:"actor"`
	ClientIP  string         `json:"clientIp,omitempty"`
	Action    string         `json:"action"`
	Target    AuditTarget    `json:"target"`
	Workspace string         `json:"workspace,omitempty"` // its ID
	Details   map[string]any `json:"details,omitempty"`
}

// Audit actions. docs/accounts.md lists them; TestAuditActions holds
// that every one is recorded by the change it names.
const (
	AuditSigninSucceeded     = "signin.succeeded"
	AuditSigninFailed        = "signin.failed"
	AuditSessionRevoked      = "session.revoked"
	AuditUserCreated         = "user.created"
	AuditUserInvited         = "user.invited"
	AuditInvitationRevoked   = "invitation.revoked"
	AuditInvitationAccepted  = "invitation.accepted"
	AuditUserDisabled        = "user.disabled"
	AuditUserEnabled         = "user.enabled"
	AuditUserDeleted         = "user.deleted"
	AuditUserEmailChanged    = "user.email_changed"
	AuditPasswordChanged     = "user.password_changed"
	AuditPasswordReset       = "user.password_reset"
	AuditFactorAdded         = "user.second_factor_added"
	AuditFactorRemoved       = "user.second_factor_removed"
	AuditRecoveryRenewed     = "user.recovery_codes_renewed"
	AuditMemberAdded         = "member.added"
	AuditMemberRoleChanged   = "member.role_changed"
	AuditMemberRemoved       = "member.removed"
	AuditTokenCreated        = "token.created"
	AuditTokenRevoked        = "token.revoked"
	AuditServiceAcctCreated  = "service_account.created"
	AuditServiceAcctDeleted  = "service_account.deleted"
	AuditWorkspaceCreated    = "workspace.created"
	AuditWorkspaceChanged    = "workspace.changed"
	AuditProjectCreated      = "project.created"
	AuditProjectChanged      = "project.changed"
	AuditBuildChanged        = "build.changed"
	AuditBuildDeleted        = "build.deleted"
	AuditFileDeleted         = "file.deleted"
	AuditLinkCreated         = "link.created"
	AuditLinkDeactivated     = "link.deactivated"
	AuditDistributionCreated = "distribution.created"
	AuditDistributionChanged = "distribution.changed"
	AuditDistributionDeleted = "distribution.deleted"
	AuditWebhookCreated      = "webhook.created"
	AuditWebhookChanged      = "webhook.changed"
	AuditWebhookDeleted      = "webhook.deleted"
	AuditDeviceRemoved       = "device.removed"
	AuditTesterGroupCreated  = "tester_group.created"
	AuditTesterGroupChanged  = "tester_group.changed"
	AuditTesterGroupDeleted  = "tester_group.deleted"
	AuditTesterSignedIn      = "tester.signed_in"
	AuditTesterSignedOut     = "tester.signed_out"
	AuditBackupTaken         = "backup.taken"
	AuditSigningKeyRotated   = "signing_key.rotated"
)

// AuditActions lists every action, in the order of docs/accounts.md.
var AuditActions = []string{
	AuditSigninSucceeded, AuditSigninFailed, AuditSessionRevoked,
	AuditUserCreated, AuditUserInvited, AuditInvitationRevoked, AuditInvitationAccepted,
	AuditUserDisabled, AuditUserEnabled, AuditUserDeleted, AuditUserEmailChanged,
	AuditPasswordChanged, AuditPasswordReset, AuditFactorAdded, AuditFactorRemoved, AuditRecoveryRenewed,
	AuditMemberAdded, AuditMemberRoleChanged, AuditMemberRemoved,
	AuditTokenCreated, AuditTokenRevoked, AuditServiceAcctCreated, AuditServiceAcctDeleted,
	AuditWorkspaceCreated, AuditWorkspaceChanged, AuditProjectCreated, AuditProjectChanged,
	AuditBuildChanged, AuditBuildDeleted, AuditFileDeleted, AuditLinkCreated, AuditLinkDeactivated,
	AuditDistributionCreated, AuditDistributionChanged, AuditDistributionDeleted,
	AuditWebhookCreated, AuditWebhookChanged, AuditWebhookDeleted,
	AuditTesterGroupCreated, AuditTesterGroupChanged, AuditTesterGroupDeleted,
	AuditTesterSignedIn, AuditTesterSignedOut,
	AuditDeviceRemoved, AuditBackupTaken, AuditSigningKeyRotated,
}

// As returns a view of the store whose changes are recorded as made by a.
// It shares the database; making one is cheap.
func (s *Store) As(a Actor) *Store {
	v := *s
	a.Name = clip(a.Name, 128)
	v.actor = a
	return &v
}

// Actor is who this view records changes as.
func (s *Store) Actor() Actor { return s.actorOf() }

// actorOf is the store's actor: the system unless As said otherwise.
func (s *Store) actorOf() Actor {
	if s.actor.Kind == "" {
		return System
	}
	return s.actor
}

// clip bounds a text an attacker may choose (a username tried at sign-in)
// before it is kept.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// record appends an entry to the audit log in tx.
func (s *Store) record(tx *bolt.Tx, action string, target AuditTarget, workspaceID string, details map[string]any) error {
	b := tx.Bucket(bucketAuditLog)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	a := s.actorOf()
	target.Name = clip(target.Name, 256)
	e := AuditEntry{ID: fmt.Sprintf("%016x", seq), Time: s.now().UTC(), Actor: a, ClientIP: a.ClientIP,
		Action: action, Target: target, Workspace: workspaceID, Details: details}
	if err := put(b, u64(seq), e); err != nil {
		return err
	}
	if workspaceID != "" {
		if err := tx.Bucket(bucketAuditWorkspace).Put(key(workspaceID, e.ID), nil); err != nil {
			return err
		}
	}
	if s.auditSink != nil {
		tx.OnCommit(func() { s.auditSink(e) })
	}
	return nil
}

// Record appends an entry that no other change carries (a failed sign-in,
// a backup taken).
func (s *Store) Record(action string, target AuditTarget, workspaceID string, details map[string]any) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return s.record(tx, action, target, workspaceID, details)
	})
}

// changes returns the fields that differ between two values of the same
// type, as {"field": [before, after]}, leaving out the fields named in
// skip; a field in secret is reported as "changed" without its values.
func changes(before, after any, skip, secret []string) map[string]any {
	var b, a map[string]any
	if raw, err := json.Marshal(before); err == nil {
		json.Unmarshal(raw, &b)
	}
	if raw, err := json.Marshal(after); err == nil {
		json.Unmarshal(raw, &a)
	}
	out := map[string]any{}
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if slices.Contains(skip, k) {
			continue
		}
		x, _ := json.Marshal(b[k])
		y, _ := json.Marshal(a[k])
		if bytes.Equal(x, y) {
			continue
		}
		if slices.Contains(secret, k) {
			out[k] = "changed"
			continue
		}
		out[k] = []any{b[k], a[k]}
	}
	return out
}

// AuditQuery selects entries of the audit log, newest first.
type AuditQuery struct {
	Workspace string    // only this workspace's entries ("": all)
	Actor     string    // an actor's ID or name
	Action    string    // an action, or a prefix ending in "." ("user.")
	Since     time.Time // entries at or after (zero: any)
	Until     time.Time // entries before (zero: any)
	Cursor    string    // the Next of the page before
	Limit     int
}

// auditScanBudget bounds the entries one page reads while filtering, so
// that a filter nothing matches costs a bounded amount per request; the
// page then ends early with a cursor to go on from.
const auditScanBudget = 20000

// AuditLog returns a page of entries, newest first, and the cursor of the
// next page ("" at the end).
func (s *Store) AuditLog(q AuditQuery) (out []AuditEntry, next string, err error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	start := uint64(1<<64 - 1)
	if q.Cursor != "" {
		if _, err := fmt.Sscanf(q.Cursor, "%016x", &start); err != nil || len(q.Cursor) != 16 {
			return nil, "", fmt.Errorf("%w: cursor", ErrInvalid)
		}
	}
	match := func(e AuditEntry) bool {
		switch {
		case q.Actor != "" && e.Actor.ID != q.Actor && e.Actor.Name != q.Actor:
		case q.Action != "" && e.Action != q.Action && !(strings.HasSuffix(q.Action, ".") && strings.HasPrefix(e.Action, q.Action)):
		case !q.Until.IsZero() && !e.Time.Before(q.Until):
		default:
			return true
		}
		return false
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketAuditLog)
		// seqs yields sequence numbers below start, newest first: of the
		// whole log, or of one workspace's index.
		var c *bolt.Cursor
		var prefix []byte
		var k []byte
		if q.Workspace == "" {
			c = log.Cursor()
			k, _ = c.Seek(u64(start))
			if k == nil || binary.BigEndian.Uint64(k) >= start {
				k, _ = c.Prev()
			}
		} else {
			c = tx.Bucket(bucketAuditWorkspace).Cursor()
			prefix = key(q.Workspace, "")
			k, _ = c.Seek(key(q.Workspace, fmt.Sprintf("%016x", start)))
			if k == nil || !bytes.HasPrefix(k, prefix) || string(k[len(prefix):]) >= fmt.Sprintf("%016x", start) {
				k, _ = c.Prev()
			}
		}
		for scanned := 0; k != nil; k, _ = c.Prev() {
			var seq uint64
			if prefix == nil {
				seq = binary.BigEndian.Uint64(k)
			} else {
				if !bytes.HasPrefix(k, prefix) {
					break
				}
				if _, err := fmt.Sscanf(string(k[len(prefix):]), "%016x", &seq); err != nil {
					return err
				}
			}
			if len(out) == q.Limit || scanned == auditScanBudget {
				next = fmt.Sprintf("%016x", seq+1)
				return nil
			}
			scanned++
			var e AuditEntry
			if err := get(log, u64(seq), &e); err != nil {
				return err
			}
			if !q.Since.IsZero() && e.Time.Before(q.Since) {
				return nil // older ones are older still
			}
			if match(e) {
				out = append(out, e)
			}
		}
		return nil
	})
	if out == nil {
		out = []AuditEntry{}
	}
	return out, next, err
}

// PruneAuditLog removes entries older than maxAge (0: any age) and the
// oldest beyond maxEntries (0: no limit), at most max per call so that one
// transaction stays short; it returns how many it removed. Entries are only
// ever removed oldest first, so the log's keys are one run of sequence
// numbers and its length is their difference.
func (s *Store) PruneAuditLog(maxAge time.Duration, maxEntries int, max int) (int, error) {
	var doomed []AuditEntry
	err := s.db.Update(func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketAuditLog)
		c := log.Cursor()
		first, _ := c.First()
		last, _ := c.Last()
		if first == nil {
			return nil
		}
		excess := 0
		if n := int(binary.BigEndian.Uint64(last) - binary.BigEndian.Uint64(first) + 1); maxEntries > 0 && n > maxEntries {
			excess = n - maxEntries
		}
		cutoff := time.Time{}
		if maxAge > 0 {
			cutoff = s.now().Add(-maxAge)
		}
		for k, v := c.First(); k != nil && len(doomed) < max; k, v = c.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if len(doomed) >= excess && (cutoff.IsZero() || !e.Time.Before(cutoff)) {
				break
			}
			doomed = append(doomed, e)
		}
		for _, e := range doomed {
			var seq uint64
			fmt.Sscanf(e.ID, "%016x", &seq)
			if err := log.Delete(u64(seq)); err != nil {
				return err
			}
			if e.Workspace != "" {
				if err := tx.Bucket(bucketAuditWorkspace).Delete(key(e.Workspace, e.ID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(doomed), nil
}
