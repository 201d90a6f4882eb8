package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Testers' sign-in: a tester is an e-mail address, not an account. They
// ask for a link on a page for testers, the link (single use, a quarter
// of an hour) gives their device a tester session, and the session opens
// the pages whose groups hold their address, for as long as they do.
// A workspace can sign a tester out of its pages (a revocation: sessions
// made before it no longer open them); the instance's admins can end a
// tester's sessions everywhere.

// Bounds and lifetimes of testers' sign-in.
const (
	TesterLinkTTL = 15 * time.Minute
	// MaxTesterLinks bounds the pending links of the instance (one per
	// address: asking again replaces the last one).
	MaxTesterLinks = 10000
	// MaxTesterSessions bounds the live sessions of one address: the
	// oldest goes when a new one would pass it.
	MaxTesterSessions = 20
	// TesterSessionPrefix begins a tester session's token.
	TesterSessionPrefix = "hgt_"
)

// TesterLink is a pending sign-in link; only its token's SHA-256 is kept.
type TesterLink struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Next      string    `json:"next"` // the page that asked for it, opened once signed in
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// TesterSession is a device's sign-in as a tester. Its token is
// "hgt_{id}.{secret}"; only the secret's SHA-256 is kept.
type TesterSession struct {
	ID         string    `json:"id"`
	Email      string    `json:"email"`
	SecretHash []byte    `json:"secretHash"`
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// testerRevocation ends, in one workspace, the sessions of an address
// made before At; it matters until the last of them would have expired.
type testerRevocation struct {
	At    time.Time `json:"at"`
	Until time.Time `json:"until"`
}

// CreateTesterLink stores a sign-in link for an address, replacing any
// pending one of it, and queues the mail compose makes of its token in
// the same transaction. A mail the recipient's hourly bound drops is
// ErrMailDropped (the link stands; nobody is shown it).
func (s *Store) CreateTesterLink(email, next string, compose func(plain string) Mail) error {
	email = strings.ToLower(email)
	now := s.now().UTC()
	l := TesterLink{ID: NewID(), Email: email, Next: next, CreatedAt: now, ExpiresAt: now.Add(TesterLinkTTL)}
	plain, _ := newTokenString()
	var mailErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		links, byAddr := tx.Bucket(bucketTesterLinks), tx.Bucket(bucketTesterLinkAddrs)
		if old := byAddr.Get([]byte(email)); old != nil {
			if err := links.Delete(bytes.Clone(old)); err != nil {
				return err
			}
		} else if links.Stats().KeyN >= MaxTesterLinks {
			return fmt.Errorf("%w: %d sign-in links are pending", ErrInvalid, MaxTesterLinks)
		}
		h := hashToken(plain)
		if err := put(links, h, l); err != nil {
			return err
		}
		if err := byAddr.Put([]byte(email), h); err != nil {
			return err
		}
		if mailErr = s.queueMail(tx, compose(plain)); mailErr != nil && !errors.Is(mailErr, ErrMailDropped) {
			return mailErr
		}
		return nil
	})
	if err != nil {
		return err
	}
	return mailErr
}

// TesterLinkByPlain returns a pending link; an unknown, used or expired
// one is ErrTokenExpired.
func (s *Store) TesterLinkByPlain(plain string) (TesterLink, error) {
	var l TesterLink
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		l, err = s.testerLink(tx, plain)
		return err
	})
	return l, err
}

func (s *Store) testerLink(tx *bolt.Tx, plain string) (TesterLink, error) {
	var l TesterLink
	if get(tx.Bucket(bucketTesterLinks), hashToken(plain), &l) != nil || !s.now().Before(l.ExpiresAt) {
		return TesterLink{}, ErrTokenExpired
	}
	return l, nil
}

// UseTesterLink spends a link and makes the session it gives, valid for
// ttl; it returns the session, its token and the page to open.
func (s *Store) UseTesterLink(plain string, ttl time.Duration) (TesterSession, string, string, error) {
	var (
		sess  TesterSession
		token string
		next  string
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		l, err := s.testerLink(tx, plain)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketTesterLinks).Delete(hashToken(plain)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTesterLinkAddrs).Delete([]byte(l.Email)); err != nil {
			return err
		}
		now := s.now().UTC()
		var secret [32]byte
		rand.Read(secret[:])
		sess = TesterSession{ID: NewID(), Email: l.Email, CreatedAt: now, ExpiresAt: now.Add(ttl)}
		sh := sha256.Sum256(secret[:])
		sess.SecretHash = sh[:]
		token = TesterSessionPrefix + sess.ID + "." + base64.RawURLEncoding.EncodeToString(secret[:])
		next = l.Next
		if err := s.boundTesterSessions(tx, l.Email); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketTesterSessions), []byte(sess.ID), sess); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTesterAddrSess).Put(addrSessionKey(sess), []byte(sess.ID)); err != nil {
			return err
		}
		return s.record(tx, AuditTesterSignedIn, AuditTarget{Kind: "tester", ID: sess.ID, Name: l.Email}, "", nil)
	})
	return sess, token, next, err
}

// addrSessionKey indexes a session under its address, oldest first.
func addrSessionKey(sess TesterSession) []byte {
	return key(sess.Email+"\x00", fmt.Sprintf("%016x", sess.CreatedAt.UnixNano()), sess.ID)
}

// testerSessionsOf returns an address's sessions, oldest first.
func testerSessionsOf(tx *bolt.Tx, email string) []TesterSession {
	var out []TesterSession
	b := tx.Bucket(bucketTesterSessions)
	forEachPrefix(tx.Bucket(bucketTesterAddrSess), email+"\x00", func(_, id []byte) bool {
		var sess TesterSession
		if get(b, id, &sess) == nil {
			out = append(out, sess)
		}
		return true
	})
	return out
}

// boundTesterSessions removes an address's oldest sessions so that one
// more fits.
func (s *Store) boundTesterSessions(tx *bolt.Tx, email string) error {
	all := testerSessionsOf(tx, email)
	for len(all) >= MaxTesterSessions {
		if err := deleteTesterSession(tx, all[0]); err != nil {
			return err
		}
		all = all[1:]
	}
	return nil
}

func deleteTesterSession(tx *bolt.Tx, sess TesterSession) error {
	if err := tx.Bucket(bucketTesterSessions).Delete([]byte(sess.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketTesterAddrSess).Delete(addrSessionKey(sess))
}

// TesterSessionByToken returns the live session a token names, or
// ErrTokenExpired.
func (s *Store) TesterSessionByToken(token string) (TesterSession, error) {
	rest, ok := strings.CutPrefix(token, TesterSessionPrefix)
	id, secretText, ok2 := strings.Cut(rest, ".")
	secret, err := base64.RawURLEncoding.Strict().DecodeString(secretText) // one spelling per token
	if !ok || !ok2 || err != nil || len(secret) != 32 {
		return TesterSession{}, ErrTokenExpired
	}
	sess, err := s.TesterSession(id)
	if err != nil {
		return TesterSession{}, ErrTokenExpired
	}
	sh := sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(sh[:], sess.SecretHash) != 1 {
		return TesterSession{}, ErrTokenExpired
	}
	return sess, nil
}

// TesterSession returns a live session by ID, or ErrTokenExpired.
func (s *Store) TesterSession(id string) (TesterSession, error) {
	var sess TesterSession
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketTesterSessions), []byte(id), &sess)
	})
	if err != nil || !s.now().Before(sess.ExpiresAt) {
		return TesterSession{}, ErrTokenExpired
	}
	return sess, nil
}

// EndTesterSession ends one session (its tester signed out).
func (s *Store) EndTesterSession(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var sess TesterSession
		if err := get(tx.Bucket(bucketTesterSessions), []byte(id), &sess); err != nil {
			return nil // already gone
		}
		return deleteTesterSession(tx, sess)
	})
}

// SignOutTester ends an address's sessions for a workspace's pages (all
// of them, and the sessions themselves, when workspaceID is ""): sessions
// made before now no longer open them, and its pending sign-in link is
// spent. maxTTL is the longest a session
// lives, after which the revocation is forgotten.
func (s *Store) SignOutTester(workspaceID, email string, maxTTL time.Duration) error {
	email = strings.ToLower(email)
	now := s.now().UTC()
	return s.db.Update(func(tx *bolt.Tx) error {
		target := AuditTarget{Kind: "tester", Name: email}
		// A sign-in link asked for before the sign-out would make a
		// session after it: it goes too.
		if h := tx.Bucket(bucketTesterLinkAddrs).Get([]byte(email)); h != nil {
			if err := tx.Bucket(bucketTesterLinks).Delete(bytes.Clone(h)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketTesterLinkAddrs).Delete([]byte(email)); err != nil {
				return err
			}
		}
		if workspaceID == "" {
			all := testerSessionsOf(tx, email)
			for _, sess := range all {
				if err := deleteTesterSession(tx, sess); err != nil {
					return err
				}
			}
			return s.record(tx, AuditTesterSignedOut, target, "", map[string]any{"sessions": len(all)})
		}
		if tx.Bucket(bucketWorkspaces).Get([]byte(workspaceID)) == nil {
			return fmt.Errorf("workspace %s: %w", workspaceID, ErrNotFound)
		}
		if err := put(tx.Bucket(bucketTesterRevocations), testerRevocationKey(workspaceID, email), testerRevocation{At: now, Until: now.Add(maxTTL)}); err != nil {
			return err
		}
		return s.record(tx, AuditTesterSignedOut, target, workspaceID, nil)
	})
}

func testerRevocationKey(workspaceID, email string) []byte {
	return key(workspaceID, email)
}

// TesterMayOpen reports whether a tester's session opens a page for the
// groups slugs of workspace workspaceID: the address is in one of them
// now, and the workspace has not signed the tester out since the session
// was made.
func (s *Store) TesterMayOpen(sess TesterSession, workspaceID string, groups []string) bool {
	ok := false
	s.db.View(func(tx *bolt.Tx) error {
		var r testerRevocation
		if get(tx.Bucket(bucketTesterRevocations), testerRevocationKey(workspaceID, sess.Email), &r) == nil && !sess.CreatedAt.After(r.At) {
			return nil
		}
		ok = inGroups(tx, sess.Email, workspaceID, groups)
		return nil
	})
	return ok
}

// InTesterGroups reports whether an address is in one of a workspace's
// groups (by slug).
func (s *Store) InTesterGroups(email, workspaceID string, groups []string) bool {
	ok := false
	s.db.View(func(tx *bolt.Tx) error {
		ok = inGroups(tx, strings.ToLower(email), workspaceID, groups)
		return nil
	})
	return ok
}

func inGroups(tx *bolt.Tx, email, workspaceID string, groups []string) bool {
	if email == "" {
		return false
	}
	idx := tx.Bucket(bucketTesterAddrs)
	for _, g := range groups {
		if idx.Get(testerAddrKey(email, workspaceID, g)) != nil {
			return true
		}
	}
	return false
}

// testerAddrKey indexes an address's membership of a group. A NUL ends
// the address, which no valid address holds, so that one address is
// never a prefix of another's keys.
func testerAddrKey(email, workspaceID, slug string) []byte {
	return key(email+"\x00", workspaceID, slug)
}

// TesterGroupsOf returns the groups that hold an address, as workspace
// ID → group slugs.
func (s *Store) TesterGroupsOf(email string) (map[string][]string, error) {
	out := map[string][]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		forEachPrefix(tx.Bucket(bucketTesterAddrs), strings.ToLower(email)+"\x00", func(rest, _ []byte) bool {
			ws, slug, _ := strings.Cut(string(rest), "/")
			out[ws] = append(out[ws], slug)
			return true
		})
		return nil
	})
	return out, err
}
