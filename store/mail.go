package store

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The mail outbox: a mail is queued in the transaction of the change that
// causes it (an invitation, a reset link), like a webhook's delivery, and
// package mail sends it in the background. The queue and each recipient
// are bounded: a full queue or a recipient mailed too often this hour
// drops the mail (the change stands; its link is shown to whoever made it).

// Mail is one message to one recipient, as queued.
type Mail struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
	// Unsubscribe is the one-click unsubscribe URL of a notification
	// (RFC 8058), sent as List-Unsubscribe.
	Unsubscribe string    `json:"unsubscribe,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttempt"`
	LastError   string    `json:"lastError,omitempty"`
}

// Mail bounds.
const (
	// MaxMailQueue is how many mails may wait at once.
	MaxMailQueue = 10000
	// MaxMailsPerHour is how many mails one address may be sent per hour
	// (a flood of "forgot password" requests mails it this often at most).
	MaxMailsPerHour = 10
	// Field bounds: a mail is small.
	MaxMailSubject = 200
	MaxMailBody    = 64 << 10
)

// ErrMailDropped says a mail was not queued: the queue is full or its
// recipient had enough mail this hour.
var ErrMailDropped = errors.New("mail not queued: the queue is full or the recipient was mailed too often")

// mailRate is a recipient's count of mails in the hour from Since.
type mailRate struct {
	Since time.Time `json:"since"`
	Count int       `json:"count"`
}

// queueMail adds m to the outbox in tx, unless a bound stops it
// (ErrMailDropped, which callers log and otherwise ignore).
func (s *Store) queueMail(tx *bolt.Tx, m Mail) error {
	if m.To == "" {
		return nil
	}
	out := tx.Bucket(bucketMailOutbox)
	if out.Stats().KeyN >= MaxMailQueue {
		return ErrMailDropped
	}
	now := s.now().UTC()
	rates := tx.Bucket(bucketMailRate)
	rk := []byte(strings.ToLower(m.To))
	var r mailRate
	if err := get(rates, rk, &r); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if now.Sub(r.Since) >= time.Hour {
		r = mailRate{Since: now}
	}
	if r.Count >= MaxMailsPerHour {
		return ErrMailDropped
	}
	r.Count++
	if err := put(rates, rk, r); err != nil {
		return err
	}
	seq, err := out.NextSequence()
	if err != nil {
		return err
	}
	m.ID, m.CreatedAt, m.NextAttempt, m.Attempts = NewID(), now, now, 0
	return put(out, u64(seq), m)
}

// QueueMail queues one mail outside any other change (a test mail).
func (s *Store) QueueMail(m Mail) error {
	return s.db.Update(func(tx *bolt.Tx) error { return s.queueMail(tx, m) })
}

// DueMails returns up to max queued mails whose next attempt is due, with
// their keys, oldest first.
func (s *Store) DueMails(max int) (keys []uint64, mails []Mail, err error) {
	now := s.now()
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMailOutbox).Cursor()
		for k, v := c.First(); k != nil && len(mails) < max; k, v = c.Next() {
			var m Mail
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			if !m.NextAttempt.After(now) {
				keys, mails = append(keys, u64key(k)), append(mails, m)
			}
		}
		return nil
	})
	return keys, mails, err
}

// QueuedMails counts the mails waiting, for metrics and tests.
func (s *Store) QueuedMails() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketMailOutbox).Stats().KeyN
		return nil
	})
	return n, err
}

// MailDone removes a sent (or given up) mail from the outbox.
func (s *Store) MailDone(key uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMailOutbox).Delete(u64(key)) })
}

// MailRetry records a failed attempt and when to try again.
func (s *Store) MailRetry(key uint64, why string, next time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMailOutbox)
		var m Mail
		if err := get(b, u64(key), &m); err != nil {
			return err
		}
		m.Attempts++
		m.LastError, m.NextAttempt = clip(why, 300), next.UTC()
		return put(b, u64(key), m)
	})
}

func u64key(k []byte) uint64 {
	var v uint64
	for _, b := range k {
		v = v<<8 | uint64(b)
	}
	return v
}
