package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Accounts: users' e-mail addresses, the one-time links that invite,
// reset a password and confirm an address (tickets), and offboarding.

// Ticket kinds.
const (
	TicketInvite = "invite" // a new user, with a role in a workspace (or none)
	TicketReset  = "reset"  // a forgotten password
	TicketEmail  = "email"  // a new address, confirmed from that address
)

// Ticket lifetimes.
const (
	InviteTTL = 7 * 24 * time.Hour
	ResetTTL  = time.Hour
	EmailTTL  = 24 * time.Hour
)

// MaxTickets bounds the pending tickets of the instance: an invitation
// beyond it is refused (expired ones are forgotten by gc).
const MaxTickets = 10000

// ErrLastAdmin is returned for disabling or deleting the last instance
// admin who can sign in.
var ErrLastAdmin = errors.New("the last instance admin cannot be disabled or deleted")

// Ticket is a single-use link's meaning. Only the SHA-256 of its token is
// stored; ID names it in lists and revocations.
type Ticket struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Email       string    `json:"email"`
	WorkspaceID string    `json:"workspaceId,omitempty"` // invitations into a workspace
	Role        string    `json:"role,omitempty"`
	Admin       bool      `json:"admin,omitempty"`  // an invitation to be an instance admin
	UserID      string    `json:"userId,omitempty"` // resets and address changes
	CreatedBy   string    `json:"createdBy,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

func emailKey(addr string) []byte { return []byte(strings.ToLower(addr)) }

func ticketTTL(kind string) time.Duration {
	switch kind {
	case TicketInvite:
		return InviteTTL
	case TicketReset:
		return ResetTTL
	case TicketSecondFactor:
		return SecondFactorTTL
	}
	return EmailTTL
}

// CreateTicket stores a new ticket and returns its token. compose, when
// not nil, makes the mail that carries the token; it is queued in the same
// transaction (a dropped mail leaves the ticket: its link is shown to
// whoever made it). An invitation to an address that a user has is
// ErrConflict; so is a second pending invitation to one address and
// workspace.
func (s *Store) CreateTicket(t Ticket, compose func(plain string) Mail) (string, Ticket, error) {
	now := s.now().UTC()
	t.ID, t.CreatedAt, t.ExpiresAt = NewID(), now, now.Add(ticketTTL(t.Kind))
	plain, _ := newTokenString()
	var mailErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		tickets := tx.Bucket(bucketTickets)
		if tickets.Stats().KeyN >= MaxTickets {
			return fmt.Errorf("%w: %d links are pending; revoke some or wait for them to expire", ErrInvalid, MaxTickets)
		}
		switch t.Kind {
		case TicketInvite:
			if tx.Bucket(bucketUserEmails).Get(emailKey(t.Email)) != nil {
				return fmt.Errorf("a user with the address %q: %w", t.Email, ErrConflict)
			}
			if t.WorkspaceID != "" && tx.Bucket(bucketWorkspaces).Get([]byte(t.WorkspaceID)) == nil {
				return fmt.Errorf("workspace %s: %w", t.WorkspaceID, ErrNotFound)
			}
			dup := false
			tickets.ForEach(func(_, v []byte) error {
				var o Ticket
				if getRaw(v, &o) == nil && o.Kind == TicketInvite && strings.EqualFold(o.Email, t.Email) && o.WorkspaceID == t.WorkspaceID && now.Before(o.ExpiresAt) {
					dup = true
				}
				return nil
			})
			if dup {
				return fmt.Errorf("an invitation of %q is pending: %w", t.Email, ErrConflict)
			}
		case TicketReset, TicketEmail, TicketSecondFactor:
			if tx.Bucket(bucketUsers).Get([]byte(t.UserID)) == nil {
				return fmt.Errorf("user %s: %w", t.UserID, ErrNotFound)
			}
			// One pending link of a kind per user: a new one replaces the
			// last, so that asking again and again (anyone may ask for a
			// reset) cannot fill the table.
			if err := endUserTickets(tx, t.UserID, t.Kind); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: ticket kind %q", ErrInvalid, t.Kind)
		}
		h := hashToken(plain)
		if err := put(tickets, h, t); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTicketIDs).Put([]byte(t.ID), h); err != nil {
			return err
		}
		if t.Kind == TicketInvite {
			details := map[string]any{"email": t.Email, "role": t.Role, "admin": t.Admin, "expiresAt": t.ExpiresAt}
			if err := s.record(tx, AuditUserInvited, AuditTarget{Kind: "invitation", ID: t.ID, Name: t.Email}, t.WorkspaceID, details); err != nil {
				return err
			}
		}
		if compose != nil {
			if mailErr = s.queueMail(tx, compose(plain)); mailErr != nil && !errors.Is(mailErr, ErrMailDropped) {
				return mailErr
			}
		}
		return nil
	})
	if err != nil {
		return "", Ticket{}, err
	}
	return plain, t, mailErr
}

func getRaw(v []byte, out any) error { return json.Unmarshal(v, out) }

// TicketByPlain returns the ticket of a token, of the given kind. An
// unknown, used or expired token, or one of another kind, is
// ErrTokenExpired: all get the same answer.
func (s *Store) TicketByPlain(plain, kind string) (Ticket, error) {
	var t Ticket
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = s.ticket(tx, plain, kind)
		return err
	})
	return t, err
}

func (s *Store) ticket(tx *bolt.Tx, plain, kind string) (Ticket, error) {
	var t Ticket
	if err := get(tx.Bucket(bucketTickets), hashToken(plain), &t); err != nil {
		return Ticket{}, ErrTokenExpired
	}
	if t.Kind != kind || !s.now().Before(t.ExpiresAt) {
		return Ticket{}, ErrTokenExpired
	}
	return t, nil
}

// endUserTickets deletes a user's pending links of the given kinds (none
// given: all of them): what was issued before a change of their
// credentials, address or standing stops working with it.
func endUserTickets(tx *bolt.Tx, userID string, kinds ...string) error {
	var doomed []Ticket
	tx.Bucket(bucketTickets).ForEach(func(_, v []byte) error {
		var t Ticket
		if getRaw(v, &t) == nil && t.UserID == userID && (len(kinds) == 0 || slices.Contains(kinds, t.Kind)) {
			doomed = append(doomed, t)
		}
		return nil
	})
	for _, t := range doomed {
		if err := deleteTicket(tx, t); err != nil {
			return err
		}
	}
	return nil
}

func deleteTicket(tx *bolt.Tx, t Ticket) error {
	ids := tx.Bucket(bucketTicketIDs)
	h := ids.Get([]byte(t.ID))
	if h == nil {
		return ErrNotFound
	}
	if err := tx.Bucket(bucketTickets).Delete(bytes.Clone(h)); err != nil {
		return err
	}
	return ids.Delete([]byte(t.ID))
}

// EndTicket uses up a ticket of the given kind (a sign-in's second
// factor, once given). A bad token is ErrTokenExpired.
func (s *Store) EndTicket(plain, kind string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		t, err := s.ticket(tx, plain, kind)
		if err != nil {
			return err
		}
		return deleteTicket(tx, t)
	})
}

// Invitations returns the pending invitations into a workspace ("": the
// instance's, into none), oldest first.
func (s *Store) Invitations(workspaceID string) ([]Ticket, error) {
	out := []Ticket{}
	now := s.now()
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTickets).ForEach(func(_, v []byte) error {
			var t Ticket
			if err := getRaw(v, &t); err != nil {
				return err
			}
			if t.Kind == TicketInvite && t.WorkspaceID == workspaceID && now.Before(t.ExpiresAt) {
				out = append(out, t)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Ticket) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// RevokeInvitation deletes a pending invitation into a workspace ("":
// the instance's); ErrNotFound if there is none with that ID there.
func (s *Store) RevokeInvitation(workspaceID, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		h := tx.Bucket(bucketTicketIDs).Get([]byte(id))
		if h == nil {
			return ErrNotFound
		}
		var t Ticket
		if err := get(tx.Bucket(bucketTickets), h, &t); err != nil {
			return err
		}
		if t.Kind != TicketInvite || t.WorkspaceID != workspaceID {
			return ErrNotFound
		}
		if err := deleteTicket(tx, t); err != nil {
			return err
		}
		return s.record(tx, AuditInvitationRevoked, AuditTarget{Kind: "invitation", ID: t.ID, Name: t.Email}, t.WorkspaceID, nil)
	})
}

// AcceptInvitation redeems an invitation: a new user with the invited
// address, the chosen username and password, and the role, in one
// transaction that uses the invitation up. A bad token is ErrTokenExpired;
// a taken username ErrConflict (the invitation stays).
func (s *Store) AcceptInvitation(plain string, u User) (User, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := s.ticket(tx, plain, TicketInvite)
		if err != nil {
			return err
		}
		if !ValidUsername(u.Username) {
			return fmt.Errorf("%w: a username is 1 to 64 letters, digits and . _ - @, starting with a letter or digit", ErrInvalid)
		}
		u.ID, u.CreatedAt, u.Email, u.Admin = NewID(), s.now().UTC(), t.Email, t.Admin
		u.Memberships = map[string]string{}
		if t.WorkspaceID != "" && tx.Bucket(bucketWorkspaces).Get([]byte(t.WorkspaceID)) != nil {
			u.Memberships[t.WorkspaceID] = t.Role
		}
		if err := deleteTicket(tx, t); err != nil {
			return err
		}
		// The invitee acts from here on.
		as := s.asUser(u)
		if err := as.createUser(tx, u); err != nil {
			return err
		}
		if err := as.record(tx, AuditInvitationAccepted, AuditTarget{Kind: "invitation", ID: t.ID, Name: t.Email}, t.WorkspaceID,
			map[string]any{"username": u.Username, "role": t.Role, "invitedBy": t.CreatedBy}); err != nil {
			return err
		}
		if role, ok := u.Memberships[t.WorkspaceID]; ok {
			return as.record(tx, AuditMemberAdded, userTarget(u), t.WorkspaceID, map[string]any{"role": []string{"", role}})
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// UserByEmail returns the user with an address (in any case), or
// ErrNotFound.
func (s *Store) UserByEmail(addr string) (User, error) {
	var u User
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUserEmails).Get(emailKey(addr))
		if id == nil {
			return ErrNotFound
		}
		return get(tx.Bucket(bucketUsers), id, &u)
	})
	return u, err
}

// ResetPassword redeems a reset link: the new password, every session
// ended, the link used up. A bad token is ErrTokenExpired.
func (s *Store) ResetPassword(plain, passwordHash string) (User, error) {
	var u User
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := s.ticket(tx, plain, TicketReset)
		if err != nil {
			return err
		}
		if err := deleteTicket(tx, t); err != nil {
			return err
		}
		if err := get(tx.Bucket(bucketUsers), []byte(t.UserID), &u); err != nil {
			return ErrTokenExpired
		}
		if u, err = s.asUser(u).setPassword(tx, t.UserID, passwordHash, false, AuditPasswordReset); err != nil {
			return err
		}
		if u.Disabled {
			return ErrTokenExpired // a disabled user's link does nothing
		}
		return nil
	})
	return u, err
}

// ConfirmEmail redeems an address confirmation: the user's address
// becomes the ticket's. A bad token is ErrTokenExpired; an address another
// user took meanwhile ErrConflict.
func (s *Store) ConfirmEmail(plain string) (User, error) {
	var u User
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := s.ticket(tx, plain, TicketEmail)
		if err != nil {
			return err
		}
		users, emails := tx.Bucket(bucketUsers), tx.Bucket(bucketUserEmails)
		if err := get(users, []byte(t.UserID), &u); err != nil {
			return ErrTokenExpired
		}
		if id := emails.Get(emailKey(t.Email)); id != nil && string(id) != u.ID {
			return fmt.Errorf("e-mail address %q: %w", t.Email, ErrConflict)
		}
		if err := deleteTicket(tx, t); err != nil {
			return err
		}
		before := u.Email
		if before != "" {
			if err := emails.Delete(emailKey(before)); err != nil {
				return err
			}
		}
		u.Email = t.Email
		if err := emails.Put(emailKey(u.Email), []byte(u.ID)); err != nil {
			return err
		}
		// Reset links went to the old address: they end with it.
		if err := endUserTickets(tx, u.ID, TicketReset); err != nil {
			return err
		}
		if err := put(users, []byte(u.ID), u); err != nil {
			return err
		}
		return s.asUser(u).record(tx, AuditUserEmailChanged, userTarget(u), "", map[string]any{"email": []string{before, u.Email}})
	})
	return u, err
}

// asUser is the store as user u, from this view's address: what a
// single-use link does, its holder does.
func (s *Store) asUser(u User) *Store {
	return s.As(Actor{Kind: ActorUser, ID: u.ID, Name: u.Username, ClientIP: s.actorOf().ClientIP})
}

// SetEmail sets a user's address directly (an instance admin's change,
// the command line); ErrConflict if another user has it.
func (s *Store) SetEmail(userID, addr string) (User, error) {
	var u User
	err := s.db.Update(func(tx *bolt.Tx) error {
		users, emails := tx.Bucket(bucketUsers), tx.Bucket(bucketUserEmails)
		if err := get(users, []byte(userID), &u); err != nil {
			return err
		}
		if id := emails.Get(emailKey(addr)); addr != "" && id != nil && string(id) != u.ID {
			return fmt.Errorf("e-mail address %q: %w", addr, ErrConflict)
		}
		before := u.Email
		if before == addr {
			return nil
		}
		if before != "" {
			if err := emails.Delete(emailKey(before)); err != nil {
				return err
			}
		}
		if u.Email = addr; addr != "" {
			if err := emails.Put(emailKey(addr), []byte(u.ID)); err != nil {
				return err
			}
		}
		if err := endUserTickets(tx, u.ID, TicketReset); err != nil {
			return err
		}
		if err := put(users, []byte(u.ID), u); err != nil {
			return err
		}
		return s.record(tx, AuditUserEmailChanged, userTarget(u), "", map[string]any{"email": []string{before, addr}})
	})
	return u, err
}

// lastAdmin reports whether u is the only instance admin user who can
// sign in: the console needs one.
func lastAdmin(tx *bolt.Tx, u User) (bool, error) {
	if !u.Admin || u.Disabled {
		return false, nil
	}
	others := false
	err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		var o User
		if err := getRaw(v, &o); err != nil {
			return err
		}
		if o.ID != u.ID && o.Admin && !o.Disabled {
			others = true
		}
		return nil
	})
	return !others, err
}

// SetDisabled disables a user (sign-in refused, every session and token
// revoked at once) or enables them again. The last instance admin cannot
// be disabled (ErrLastAdmin).
func (s *Store) SetDisabled(userID string, disabled bool) (User, error) {
	var u User
	err := s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if err := get(users, []byte(userID), &u); err != nil {
			return err
		}
		if u.Disabled == disabled {
			return nil
		}
		if disabled {
			if last, err := lastAdmin(tx, u); err != nil || last {
				return cmpErr(err, ErrLastAdmin)
			}
			u.Disabled, u.DisabledAt, u.DisabledBy = true, s.now().UTC(), s.actorOf().Name
			if err := revokeAllTokens(tx, u.ID); err != nil {
				return err
			}
			if err := endUserTickets(tx, u.ID); err != nil {
				return err
			}
		} else {
			u.Disabled, u.DisabledAt, u.DisabledBy = false, time.Time{}, ""
		}
		if err := put(users, []byte(u.ID), u); err != nil {
			return err
		}
		action := AuditUserEnabled
		if disabled {
			action = AuditUserDisabled
		}
		return s.record(tx, action, userTarget(u), "", nil)
	})
	return u, err
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// DeleteUser removes a user with their memberships, sessions, tokens and
// pending links. What they made keeps their name as text (builds' and
// links' createdBy). The last instance admin cannot be deleted.
func (s *Store) DeleteUser(userID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		var u User
		if err := get(users, []byte(userID), &u); err != nil {
			return err
		}
		if last, err := lastAdmin(tx, u); err != nil || last {
			return cmpErr(err, ErrLastAdmin)
		}
		if err := revokeAllTokens(tx, u.ID); err != nil {
			return err
		}
		if err := endUserTickets(tx, u.ID); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsernames).Delete([]byte(u.Username)); err != nil {
			return err
		}
		if u.Email != "" {
			if err := tx.Bucket(bucketUserEmails).Delete(emailKey(u.Email)); err != nil {
				return err
			}
		}
		if err := users.Delete([]byte(u.ID)); err != nil {
			return err
		}
		return s.record(tx, AuditUserDeleted, userTarget(u), "", map[string]any{"roles": u.Memberships, "admin": u.Admin, "email": u.Email})
	})
}

// setPassword replaces a user's password hash, marks whether they must
// change it at their next sign-in, and ends their sessions.
func (s *Store) setPassword(tx *bolt.Tx, userID, passwordHash string, mustChange bool, action string) (User, error) {
	users := tx.Bucket(bucketUsers)
	var u User
	if err := get(users, []byte(userID), &u); err != nil {
		return u, err
	}
	u.PasswordHash, u.MustChangePassword = passwordHash, mustChange
	if err := put(users, []byte(userID), u); err != nil {
		return u, err
	}
	if err := s.record(tx, action, userTarget(u), "", map[string]any{"mustChange": mustChange}); err != nil {
		return u, err
	}
	// A sign-in half done with the old password, and reset links, end too.
	if err := endUserTickets(tx, userID, TicketSecondFactor, TicketReset); err != nil {
		return u, err
	}
	return u, revokeAllTokens(tx, userID)
}
