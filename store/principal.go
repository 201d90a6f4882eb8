package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// User is a person who logs in with a password.
type User struct {
	ID           string            `json:"id"`
	Username     string            `json:"username"`
	PasswordHash string            `json:"passwordHash"` // encoded argon2id, parameters included
	Admin        bool              `json:"admin"`        // instance admin
	Memberships  map[string]string `json:"memberships"`  // workspace ID → role (see package auth)
	CreatedAt    time.Time         `json:"createdAt"`
	// Email is unique among users (compared in lower case); empty for
	// users made before addresses, or by an admin without one.
	Email string `json:"email,omitempty"`
	// MustChangePassword: the password was set by an admin; the user's
	// sessions may do nothing but change it.
	MustChangePassword bool `json:"mustChangePassword,omitempty"`
	// Disabled users cannot sign in and hold no session or token.
	Disabled bool `json:"disabled,omitempty"`
	// FeedbackMail are the workspaces whose testers' feedback the user
	// is mailed (feedback.go).
	FeedbackMail []string  `json:"feedbackMail,omitempty"`
	DisabledAt   time.Time `json:"disabledAt,omitzero"`
	DisabledBy   string    `json:"disabledBy,omitempty"`

	// Second factors (factors.go). The TOTP secret is kept as it is: a
	// code is checked against it (like the URL-signing keys, it is only in
	// the database and its backups). Recovery codes are kept as hashes.
	TOTPSecret    string    `json:"totpSecret,omitempty"`
	TOTPPending   string    `json:"totpPending,omitempty"` // being set up, not yet confirmed
	TOTPLastStep  uint64    `json:"totpLastStep,omitempty"`
	RecoveryCodes []string  `json:"recoveryCodes,omitempty"`
	Passkeys      []Passkey `json:"passkeys,omitempty"`

	// Source is where the user signs in: "" (a local password) or a
	// directory ("ldap"); ExternalID is their name there (a DN). Such a
	// user has no password here (external.go).
	Source     string `json:"source,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	// RuleRoles are the memberships a group rule gave (workspace ID → the
	// group): the next sign-in or sync sets them again, so they are not
	// edited by hand. RuleAdmin is the group that makes them an instance
	// admin, if one does.
	RuleRoles map[string]string `json:"ruleRoles,omitempty"`
	RuleAdmin string            `json:"ruleAdmin,omitempty"`
}

// HasSecondFactor reports whether signing in as u takes more than a
// password.
func (u User) HasSecondFactor() bool { return u.TOTPSecret != "" || len(u.Passkeys) > 0 }

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
	TokenApp            = "app"             // Owner is a project: what it may do there is its Scope
)

// Token is an API credential. Only the SHA-256 of its plain form is stored;
// Prefix is a non-secret part of the plain form, to tell tokens apart in
// listings.
type Token struct {
	Prefix  string `json:"prefix"`
	Kind    string `json:"kind"`
	OwnerID string `json:"ownerId"`
	Name    string `json:"name,omitempty"`
	// Scope is an app token's (auth.ScopeUpload and wider; "" for tokens
	// made before scopes, which upload only).
	Scope string `json:"scope,omitempty"`
	// Method is how a session's user signed in ("password", and the second
	// factors); empty for other tokens.
	Method     string    `json:"method,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt"` // zero: never
	LastUsedAt time.Time `json:"lastUsedAt"`

	// Hash is the SHA-256 of the plain token: the token's key, set by
	// lookups. It is not secret, but is not sent to clients either.
	Hash []byte `json:"-"`
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

// ValidUsername reports whether name may be a username: 1 to 64 ASCII
// letters, digits and ". _ - @", starting with a letter or a digit.
// Usernames appear in URLs, pages, logs and the CLI's columns: nothing in
// them may need escaping (NUL, markup, white space, '/').
func ValidUsername(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i, r := range name {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case i > 0 && strings.ContainsRune("._-@", r):
		default:
			return false
		}
	}
	return true
}

// CreateUser stores a new user. It returns ErrInvalid for a username that
// is not ValidUsername, ErrConflict if the username is taken.
func (s *Store) CreateUser(u User) (User, error) {
	if !ValidUsername(u.Username) {
		return User{}, fmt.Errorf("%w: a username is 1 to 64 letters, digits and . _ - @, starting with a letter or digit", ErrInvalid)
	}
	u.ID = NewID()
	u.CreatedAt = s.now().UTC()
	if u.Memberships == nil {
		u.Memberships = map[string]string{}
	}
	err := s.db.Update(func(tx *bolt.Tx) error { return s.createUser(tx, u) })
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func (s *Store) createUser(tx *bolt.Tx, u User) error {
	names := tx.Bucket(bucketUsernames)
	if names.Get([]byte(u.Username)) != nil {
		return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
	}
	if err := names.Put([]byte(u.Username), []byte(u.ID)); err != nil {
		return err
	}
	if u.Email != "" {
		emails := tx.Bucket(bucketUserEmails)
		if emails.Get(emailKey(u.Email)) != nil {
			return fmt.Errorf("e-mail address %q: %w", u.Email, ErrConflict)
		}
		if err := emails.Put(emailKey(u.Email), []byte(u.ID)); err != nil {
			return err
		}
	}
	if err := put(tx.Bucket(bucketUsers), []byte(u.ID), u); err != nil {
		return err
	}
	return s.record(tx, AuditUserCreated, userTarget(u), "", map[string]any{"admin": u.Admin, "email": u.Email})
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
		if err := put(tx.Bucket(bucketServiceAccts), []byte(sa.ID), sa); err != nil {
			return err
		}
		return s.record(tx, AuditServiceAcctCreated, AuditTarget{Kind: "service_account", ID: sa.ID, Name: sa.Name},
			onlyWorkspace(sa.Memberships), map[string]any{"admin": sa.Admin, "roles": sa.Memberships})
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
	if t.Kind == TokenSession && t.Method == "" {
		t.Method = "password"
	}
	t.LastUsedAt = time.Time{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(owners).Get([]byte(t.OwnerID)) == nil {
			return fmt.Errorf("%s %s: %w", t.Kind, t.OwnerID, ErrNotFound)
		}
		if err := putToken(tx, plain, t); err != nil {
			return err
		}
		if t.Kind == TokenSession {
			var u User
			if err := get(tx.Bucket(bucketUsers), []byte(t.OwnerID), &u); err != nil {
				return err
			}
			return s.record(tx, AuditSigninSucceeded, userTarget(u), "", map[string]any{"method": t.Method, "via": t.Name})
		}
		target, ws, details := tokenTarget(tx, t)
		return s.record(tx, AuditTokenCreated, target, ws, details)
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
	return s.TokenByHash(hashToken(plain))
}

// TokenByHash is TokenByPlain for a token known by its hash (Token.Hash):
// ErrNotFound once it is revoked, ErrTokenExpired once it has expired.
func (s *Store) TokenByHash(h []byte) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketTokens), h, &t)
	})
	if err != nil {
		return Token{}, err
	}
	t.Hash = h
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
			t.Hash = bytes.Clone(h)
			out = append(out, t)
			return true
		})
		return err
	})
	return out, err
}

// AllTokens returns every API token (not download tokens), in no
// particular order.
func (s *Store) AllTokens() ([]Token, error) {
	out, _, err := s.TokensPage("", 0)
	return out, err
}

// TokensPage lists tokens in the order of their hashes, at most limit
// (0: all), after a previous page's next (the last hash, base64url); next
// is "" on the last page. A page seeks to its cursor: O(limit).
func (s *Store) TokensPage(after string, limit int) (out []Token, next string, err error) {
	from, err := base64.RawURLEncoding.Strict().DecodeString(after) // one spelling per cursor
	if err != nil {
		return nil, "", fmt.Errorf("%w: cursor", ErrInvalid)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTokens).Cursor()
		h, v := c.First()
		if len(from) > 0 {
			if h, v = c.Seek(from); h != nil && bytes.Equal(h, from) {
				h, v = c.Next()
			}
		}
		for ; h != nil; h, v = c.Next() {
			if limit > 0 && len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString(out[len(out)-1].Hash)
				return nil
			}
			var t Token
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			t.Hash = bytes.Clone(h)
			out = append(out, t)
		}
		return nil
	})
	return out, next, err
}

// RevokeToken deletes an owner's token with the given prefix. Revocation is
// effective at once: every request looks its token up. It returns
// ErrNotFound if the owner has no such token.
func (s *Store) RevokeToken(ownerID, prefix string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		t, err := revokeToken(tx, ownerID, prefix)
		if err != nil {
			return err
		}
		return s.recordRevoked(tx, t)
	})
}

// recordRevoked records the revocation of one token (a session's end, or
// a token's).
func (s *Store) recordRevoked(tx *bolt.Tx, t Token) error {
	target, ws, details := tokenTarget(tx, t)
	action := AuditTokenRevoked
	if t.Kind == TokenSession {
		action = AuditSessionRevoked
	}
	return s.record(tx, action, target, ws, details)
}

func revokeToken(tx *bolt.Tx, ownerID, prefix string) (Token, error) {
	idx := tx.Bucket(bucketOwnerTokens)
	k := key(ownerID, prefix)
	h := idx.Get(k)
	if h == nil {
		return Token{}, ErrNotFound
	}
	var t Token
	if err := get(tx.Bucket(bucketTokens), h, &t); err != nil {
		return Token{}, err
	}
	if err := tx.Bucket(bucketTokens).Delete(h); err != nil {
		return Token{}, err
	}
	return t, idx.Delete(k)
}

// RevokeTokenByPrefix deletes the token with the given visible prefix,
// whoever owns it, and returns it. It returns ErrNotFound if there is none.
func (s *Store) RevokeTokenByPrefix(prefix string) (Token, error) {
	var found Token
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		c := b.Cursor()
		for h, v := c.First(); h != nil; h, v = c.Next() {
			var t Token
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			if t.Prefix == prefix {
				found = t
				if _, err := revokeToken(tx, t.OwnerID, prefix); err != nil {
					return err
				}
				return s.recordRevoked(tx, t)
			}
		}
		return ErrNotFound
	})
	return found, err
}

// TouchTokens records when tokens were last used, in one transaction, keyed
// by token hash. Tokens revoked meanwhile are skipped. Callers batch these so
// that authenticating a request never costs a write.
func (s *Store) TouchTokens(lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		for h, at := range lastUsed {
			var t Token
			if err := get(b, []byte(h), &t); err == ErrNotFound {
				continue
			} else if err != nil {
				return err
			}
			if at.After(t.LastUsedAt) {
				t.LastUsedAt = at.UTC()
				if err := put(b, []byte(h), t); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Bootstrap makes sure the instance can be administered: on a database with
// no users and no service accounts it creates an instance-admin service
// account named "admin" with one token, and returns that token's plain form;
// given a password hash, also an instance-admin user named "admin" with
// it, for the web console. On any other database it returns "". All of it
// happens in one transaction, so two racing starts cannot both create one.
func (s *Store) Bootstrap(adminPasswordHash string) (string, error) {
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
		if adminPasswordHash != "" {
			u := User{ID: NewID(), Username: "admin", PasswordHash: adminPasswordHash, Admin: true, Memberships: map[string]string{}, CreatedAt: now}
			if err := tx.Bucket(bucketUsernames).Put([]byte(u.Username), []byte(u.ID)); err != nil {
				return err
			}
			if err := put(tx.Bucket(bucketUsers), []byte(u.ID), u); err != nil {
				return err
			}
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

// Fresh reports whether the database has no user and no service account
// yet: Bootstrap would create the first ones.
func (s *Store) Fresh() (bool, error) {
	fresh := false
	err := s.db.View(func(tx *bolt.Tx) error {
		u, _ := tx.Bucket(bucketUsers).Cursor().First()
		sa, _ := tx.Bucket(bucketServiceAccts).Cursor().First()
		fresh = u == nil && sa == nil
		return nil
	})
	return fresh, err
}

// Users returns every user, ordered by username.
func (s *Store) Users() ([]User, error) {
	var out []User
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[User](tx, bucketUsers, values(tx.Bucket(bucketUsernames)))
		return err
	})
	return out, err
}

// SetPassword replaces a user's password hash and revokes the user's
// sessions, in one transaction; mustChange says that an admin set it,
// and the user must choose their own at their next sign-in. It returns
// ErrNotFound for an unknown user.
func (s *Store) SetPassword(userID, passwordHash string, mustChange bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := s.setPassword(tx, userID, passwordHash, mustChange, AuditPasswordChanged)
		return err
	})
}

func revokeAllTokens(tx *bolt.Tx, ownerID string) error {
	var prefixes []string
	forEachPrefix(tx.Bucket(bucketOwnerTokens), ownerID, func(prefix, _ []byte) bool {
		prefixes = append(prefixes, string(prefix))
		return true
	})
	for _, p := range prefixes {
		if _, err := revokeToken(tx, ownerID, p); err != nil {
			return err
		}
	}
	return nil
}

// ServiceAccounts returns every service account, in ID order.
func (s *Store) ServiceAccounts() ([]ServiceAccount, error) {
	var out []ServiceAccount
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[ServiceAccount](tx, bucketServiceAccts, keys(tx.Bucket(bucketServiceAccts)))
		return err
	})
	return out, err
}

// DeleteServiceAccount deletes a service account and all its tokens in one
// transaction. It returns ErrNotFound if there is no such account.
func (s *Store) DeleteServiceAccount(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketServiceAccts)
		var sa ServiceAccount
		if err := get(b, []byte(id), &sa); err != nil {
			return err
		}
		if err := revokeAllTokens(tx, id); err != nil {
			return err
		}
		if err := s.record(tx, AuditServiceAcctDeleted, AuditTarget{Kind: "service_account", ID: sa.ID, Name: sa.Name},
			onlyWorkspace(sa.Memberships), map[string]any{"roles": sa.Memberships}); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
}

// Member kinds for SetMembership.
const (
	MemberUser           = "user"
	MemberServiceAccount = "service-account"
)

// SetMembership gives a user or service account a role in a workspace; an
// empty role removes the membership. It returns ErrNotFound if the member or
// the workspace does not exist, or (removing) if it is not a member;
// ErrInvalid for an unknown kind. Roles are not
// checked here: package auth knows them.
func (s *Store) SetMembership(kind, memberID, workspaceID, role string) error {
	var bucket []byte
	switch kind {
	case MemberUser:
		bucket = bucketUsers
	case MemberServiceAccount:
		bucket = bucketServiceAccts
	default:
		return fmt.Errorf("%w: member kind %q", ErrInvalid, kind)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketWorkspaces).Get([]byte(workspaceID)) == nil {
			return fmt.Errorf("workspace %s: %w", workspaceID, ErrNotFound)
		}
		b := tx.Bucket(bucket)
		// Users and service accounts share the memberships field; decode
		// only what is needed to change it and keep the rest as it is.
		var m map[string]json.RawMessage
		if err := get(b, []byte(memberID), &m); err != nil {
			return fmt.Errorf("%s %s: %w", kind, memberID, err)
		}
		var ms map[string]string
		if raw, ok := m["memberships"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &ms); err != nil {
				return err
			}
		}
		if ms == nil {
			ms = map[string]string{}
		}
		before, was := ms[workspaceID]
		if role == "" {
			if _, ok := ms[workspaceID]; !ok {
				return fmt.Errorf("%s %s in workspace %s: %w", kind, memberID, workspaceID, ErrNotFound)
			}
			delete(ms, workspaceID)
		} else {
			ms[workspaceID] = role
		}
		raw, err := json.Marshal(ms)
		if err != nil {
			return err
		}
		m["memberships"] = raw
		if err := put(b, []byte(memberID), m); err != nil {
			return err
		}
		action := AuditMemberRoleChanged
		switch {
		case role == "":
			action = AuditMemberRemoved
		case !was:
			action = AuditMemberAdded
		case before == role:
			return nil // nothing changed
		}
		var name string
		for _, f := range []string{"username", "name"} {
			if raw, ok := m[f]; ok {
				json.Unmarshal(raw, &name)
			}
		}
		targetKind := ActorUser
		if kind == MemberServiceAccount {
			targetKind = ActorServiceAccount
		}
		return s.record(tx, action, AuditTarget{Kind: targetKind, ID: memberID, Name: name}, workspaceID,
			map[string]any{"role": []string{before, role}})
	})
}

func userTarget(u User) AuditTarget {
	return AuditTarget{Kind: "user", ID: u.ID, Name: u.Username}
}

// onlyWorkspace is the workspace of an account that is a member of one
// (so that its workspace's admins see its entries), else "".
func onlyWorkspace(ms map[string]string) string {
	if len(ms) != 1 {
		return ""
	}
	for ws := range ms {
		return ws
	}
	return ""
}

// tokenTarget describes a token for the audit log: its prefix and name,
// whose it is (an app token's project), and the workspace whose admins
// see it.
func tokenTarget(tx *bolt.Tx, t Token) (AuditTarget, string, map[string]any) {
	target := AuditTarget{Kind: "token", ID: t.Prefix, Name: t.Name}
	details := map[string]any{"kind": t.Kind}
	ws := ""
	switch t.Kind {
	case TokenApp:
		var p Project
		if get(tx.Bucket(bucketProjects), []byte(t.OwnerID), &p) == nil {
			details["project"], ws = p.Slug, p.WorkspaceID
		}
		details["scope"] = t.Scope
	case TokenServiceAccount:
		var sa ServiceAccount
		if get(tx.Bucket(bucketServiceAccts), []byte(t.OwnerID), &sa) == nil {
			details["owner"], ws = sa.Name, onlyWorkspace(sa.Memberships)
		}
	case TokenSession:
		var u User
		if get(tx.Bucket(bucketUsers), []byte(t.OwnerID), &u) == nil {
			details["owner"] = u.Username
		}
	}
	return target, ws, details
}
