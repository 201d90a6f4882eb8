package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Roles a user or service account can hold in a workspace.
const (
	RoleViewer    = "viewer"
	RoleCI        = "ci"
	RoleDeveloper = "developer"
	RoleAdmin     = "admin"
)

// User is a person who logs in with a password.
type User struct {
	ID           string            `json:"id"`
	Username     string            `json:"username"`
	PasswordHash string            `json:"passwordHash"` // encoded argon2id, parameters included
	Admin        bool              `json:"admin"`        // instance admin
	Memberships  map[string]string `json:"memberships"`  // workspace ID → role
	CreatedAt    time.Time         `json:"createdAt"`
}

// ServiceAccount is a non-human API client, authenticated by its tokens.
type ServiceAccount struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Admin       bool              `json:"admin"`       // instance admin
	Memberships map[string]string `json:"memberships"` // workspace ID → role
	CreatedAt   time.Time         `json:"createdAt"`
}

// Token kinds.
const (
	TokenSession        = "session"         // Owner is a user
	TokenServiceAccount = "service_account" // Owner is a service account
	TokenApp            = "app"             // Owner is a project: may only upload builds to it
)

// Token is an API credential. Only the SHA-256 of its plain form is stored;
// Prefix is a non-secret part of the plain form, to tell tokens apart in
// listings.
type Token struct {
	Prefix     string    `json:"prefix"`
	Kind       string    `json:"kind"`
	OwnerID    string    `json:"ownerId"`
	Name       string    `json:"name,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt"` // zero: never
	LastUsedAt time.Time `json:"lastUsedAt"`
}

// TokenPrefix begins every token Hangar issues, so that secret scanners and
// people can recognise them.
const TokenPrefix = "hgr_"

var prefixEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newTokenString returns a fresh token: "hgr_", an 8-character visible prefix,
// "_", and 256 random bits in base64url.
func newTokenString() (plain, prefix string) {
	var p [5]byte
	var secret [32]byte
	rand.Read(p[:])
	rand.Read(secret[:])
	prefix = prefixEncoding.EncodeToString(p[:])
	return TokenPrefix + prefix + "_" + base64.RawURLEncoding.EncodeToString(secret[:]), prefix
}

func hashToken(plain string) []byte {
	h := sha256.Sum256([]byte(plain))
	return h[:]
}

// CreateUser stores a new user. It returns ErrInvalid for an empty username
// or one with '/' or white space, ErrConflict if the username is taken.
func (s *Store) CreateUser(u User) (User, error) {
	if u.Username == "" || len(u.Username) > 64 || strings.ContainsAny(u.Username, "/ \t\r\n") {
		return User{}, fmt.Errorf("%w: username %q", ErrInvalid, u.Username)
	}
	u.ID = NewID()
	u.CreatedAt = s.now().UTC()
	if u.Memberships == nil {
		u.Memberships = map[string]string{}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		names := tx.Bucket(bucketUsernames)
		if names.Get([]byte(u.Username)) != nil {
			return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
		}
		if err := names.Put([]byte(u.Username), []byte(u.ID)); err != nil {
			return err
		}
		return put(tx.Bucket(bucketUsers), []byte(u.ID), u)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// User returns the user with the given ID, or ErrNotFound.
func (s *Store) User(id string) (User, error) {
	var u User
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketUsers), []byte(id), &u)
	})
	return u, err
}

// UserByName returns the user with the given username, or ErrNotFound.
func (s *Store) UserByName(username string) (User, error) {
	var u User
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUsernames).Get([]byte(username))
		if id == nil {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketUsers), id, &u)
	})
	return u, err
}

// CreateServiceAccount stores a new service account.
func (s *Store) CreateServiceAccount(sa ServiceAccount) (ServiceAccount, error) {
	sa.ID = NewID()
	sa.CreatedAt = s.now().UTC()
	if sa.Memberships == nil {
		sa.Memberships = map[string]string{}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return put(tx.Bucket(bucketServiceAccts), []byte(sa.ID), sa)
	})
	if err != nil {
		return ServiceAccount{}, err
	}
	return sa, nil
}

// ServiceAccount returns the service account with the given ID, or
// ErrNotFound.
func (s *Store) ServiceAccount(id string) (ServiceAccount, error) {
	var sa ServiceAccount
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketServiceAccts), []byte(id), &sa)
	})
	return sa, err
}

// CreateToken issues a token to an existing owner (a user for sessions, a
// service account, or a project for app tokens) and returns its plain form,
// which is not stored and cannot be recovered. It returns ErrNotFound if the
// owner does not exist and ErrInvalid for an unknown kind.
func (s *Store) CreateToken(t Token) (string, Token, error) {
	var owners []byte
	switch t.Kind {
	case TokenSession:
		owners = bucketUsers
	case TokenServiceAccount:
		owners = bucketServiceAccts
	case TokenApp:
		owners = bucketProjects
	default:
		return "", Token{}, fmt.Errorf("%w: token kind %q", ErrInvalid, t.Kind)
	}
	plain, prefix := newTokenString()
	t.Prefix = prefix
	t.CreatedAt = s.now().UTC()
	t.LastUsedAt = time.Time{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(owners).Get([]byte(t.OwnerID)) == nil {
			return fmt.Errorf("%s %s: %w", t.Kind, t.OwnerID, ErrNotFound)
		}
		return putToken(tx, plain, t)
	})
	if err != nil {
		return "", Token{}, err
	}
	return plain, t, nil
}

func putToken(tx *bolt.Tx, plain string, t Token) error {
	h := hashToken(plain)
	if err := tx.Bucket(bucketOwnerTokens).Put(key(t.OwnerID, t.Prefix), h); err != nil {
		return err
	}
	return put(tx.Bucket(bucketTokens), h, t)
}

// TokenByPlain returns the token whose plain form is plain. It returns
// ErrNotFound for an unknown or revoked token and ErrTokenExpired for one past
// its expiry. The lookup is by hash, so no comparison of secrets happens here
// that could leak timing.
func (s *Store) TokenByPlain(plain string) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketTokens), hashToken(plain), &t)
	})
	if err != nil {
		return Token{}, err
	}
	if !t.ExpiresAt.IsZero() && !s.now().Before(t.ExpiresAt) {
		return Token{}, ErrTokenExpired
	}
	return t, nil
}

// Tokens returns the tokens of an owner, ordered by prefix.
func (s *Store) Tokens(ownerID string) ([]Token, error) {
	var out []Token
	err := s.db.View(func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		var err error
		forEachPrefix(tx.Bucket(bucketOwnerTokens), ownerID, func(_, h []byte) bool {
			var t Token
			if err = get(tokens, h, &t); err != nil {
				return false
			}
			out = append(out, t)
			return true
		})
		return err
	})
	return out, err
}

// RevokeToken deletes an owner's token with the given prefix. It returns
// ErrNotFound if there is none.
func (s *Store) RevokeToken(ownerID, prefix string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketOwnerTokens)
		k := key(ownerID, prefix)
		h := idx.Get(k)
		if h == nil {
			return ErrNotFound
		}
		if err := tx.Bucket(bucketTokens).Delete(h); err != nil {
			return err
		}
		return idx.Delete(k)
	})
}

// Bootstrap makes sure the instance can be administered: on a database with
// no users and no service accounts it creates an instance-admin service
// account named "admin" with one token, and returns that token's plain form.
// On any other database it returns "". Both happen in one transaction, so two
// racing starts cannot both create one.
func (s *Store) Bootstrap() (string, error) {
	var plain string
	err := s.db.Update(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketUsers).Cursor().First(); k != nil {
			return nil
		}
		if k, _ := tx.Bucket(bucketServiceAccts).Cursor().First(); k != nil {
			return nil
		}
		now := s.now().UTC()
		sa := ServiceAccount{ID: NewID(), Name: "admin", Admin: true, Memberships: map[string]string{}, CreatedAt: now}
		if err := put(tx.Bucket(bucketServiceAccts), []byte(sa.ID), sa); err != nil {
			return err
		}
		var prefix string
		plain, prefix = newTokenString()
		return putToken(tx, plain, Token{Prefix: prefix, Kind: TokenServiceAccount, OwnerID: sa.ID, Name: "bootstrap", CreatedAt: now})
	})
	if err != nil {
		return "", err
	}
	return plain, nil
}

// SigningKey is an HMAC key for signed download URLs.
type SigningKey struct {
	ID        string    `json:"id"`
	Secret    []byte    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
}

// SigningKeys returns the stored signing keys, creating the first one if
// there is none, newest first.
func (s *Store) SigningKeys() ([]SigningKey, error) {
	var keys []SigningKey
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSigningKeys)
		if k, _ := b.Cursor().First(); k == nil {
			if _, err := addSigningKey(tx, s.now()); err != nil {
				return err
			}
		}
		return b.ForEach(func(k, v []byte) error {
			var sk SigningKey
			if err := get(b, k, &sk); err != nil {
				return err
			}
			keys = append(keys, sk)
			return nil
		})
	})
	// Key IDs are time-ordered: reverse for newest first.
	for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
		keys[i], keys[j] = keys[j], keys[i]
	}
	return keys, err
}

// RotateSigningKey adds a new signing key, which SigningKeys then lists
// first. Older keys stay valid so that URLs already handed out keep working
// until they expire.
func (s *Store) RotateSigningKey() (SigningKey, error) {
	var sk SigningKey
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		sk, err = addSigningKey(tx, s.now())
		return err
	})
	return sk, err
}

func addSigningKey(tx *bolt.Tx, now time.Time) (SigningKey, error) {
	sk := SigningKey{Secret: make([]byte, 32), CreatedAt: now.UTC()}
	rand.Read(sk.Secret)
	// A short, sortable ID: kids appear in every signed URL.
	var r [2]byte
	rand.Read(r[:])
	sk.ID = fmt.Sprintf("%x%x", uint64(now.Unix()), r)
	b := tx.Bucket(bucketSigningKeys)
	if b.Get([]byte(sk.ID)) != nil {
		return SigningKey{}, fmt.Errorf("signing key %s: %w", sk.ID, ErrConflict)
	}
	return sk, put(b, []byte(sk.ID), sk)
}
