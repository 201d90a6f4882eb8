package store

import (
	"fmt"
	"maps"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// People whose sign-in is a directory's (LDAP): made on their first
// sign-in, updated at each, their roles set by group rules. A local user
// (one with a password here) is never taken over by a directory sign-in
// of the same name: the caller checks the directory only for names that
// are not local users.

// RuleRole is a role a group rule gives in a workspace.
type RuleRole struct {
	Role  string
	Group string // the rule's group, for the audit log and the console
}

// UpsertExternalUser makes or updates the user a directory vouched for:
// source and externalID name them there; their address is taken when no
// other user has it. A local user of that name is ErrConflict.
func (s *Store) UpsertExternalUser(source, externalID, username, email string) (User, error) {
	if !ValidUsername(username) {
		return User{}, fmt.Errorf("%w: %q is not a username Hangar can use", ErrInvalid, username)
	}
	if len(email) > 254 || strings.ContainsAny(email, " \r\n<>,;") {
		email = ""
	}
	var u User
	err := s.db.Update(func(tx *bolt.Tx) error {
		names, users, emails := tx.Bucket(bucketUsernames), tx.Bucket(bucketUsers), tx.Bucket(bucketUserEmails)
		if id := names.Get([]byte(username)); id != nil {
			if err := get(users, id, &u); err != nil {
				return err
			}
			if u.Source != source {
				return fmt.Errorf("user %q is another source's account: %w", username, ErrConflict)
			}
			// An OpenID provider's subject is the person: the same name
			// for another subject is someone else.
			if strings.HasPrefix(source, "oidc:") && u.ExternalID != "" && u.ExternalID != externalID {
				return fmt.Errorf("user %q is another person of %s: %w", username, source, ErrConflict)
			}
		} else {
			u = User{ID: NewID(), Username: username, Source: source, ExternalID: externalID, CreatedAt: s.now().UTC(), Memberships: map[string]string{}}
			if email != "" && emails.Get(emailKey(email)) == nil {
				u.Email = email
			}
			return s.asUser(u).createUser(tx, u)
		}
		changed := u.ExternalID != externalID
		u.ExternalID = externalID
		if email != "" && !strings.EqualFold(email, u.Email) && emails.Get(emailKey(email)) == nil {
			if u.Email != "" {
				if err := emails.Delete(emailKey(u.Email)); err != nil {
					return err
				}
			}
			if err := emails.Put(emailKey(email), []byte(u.ID)); err != nil {
				return err
			}
			before := u.Email
			u.Email, changed = email, true
			if err := s.record(tx, AuditUserEmailChanged, userTarget(u), "", map[string]any{"email": []string{before, email}, "source": source}); err != nil {
				return err
			}
		}
		if !changed {
			return nil
		}
		return put(users, []byte(u.ID), u)
	})
	return u, err
}

// ApplyRuleRoles sets a directory user's rule-made roles to want
// (workspace ID → role and rule) and their instance admin rule (the group,
// or ""): roles a rule no longer gives are removed, hand-made ones stay
// unless a rule now covers their workspace. Each change is recorded with
// its rule. It reports whether any right was lost (the caller ends the
// user's sessions then).
func (s *Store) ApplyRuleRoles(userID string, want map[string]RuleRole, adminGroup string) (lost bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		var u User
		if err := get(users, []byte(userID), &u); err != nil {
			return err
		}
		before := maps.Clone(u.Memberships)
		if u.Memberships == nil {
			u.Memberships = map[string]string{}
		}
		if u.RuleRoles == nil {
			u.RuleRoles = map[string]string{}
		}
		type change struct{ action, ws, group, from, to string }
		var changes []change
		for ws, group := range u.RuleRoles {
			if _, ok := want[ws]; !ok {
				changes = append(changes, change{AuditMemberRemoved, ws, group, u.Memberships[ws], ""})
				delete(u.Memberships, ws)
				delete(u.RuleRoles, ws)
				lost = true
			}
		}
		for ws, rr := range want {
			if tx.Bucket(bucketWorkspaces).Get([]byte(ws)) == nil {
				continue
			}
			cur, had := u.Memberships[ws]
			u.RuleRoles[ws] = rr.Group
			if had && cur == rr.Role {
				continue
			}
			action := AuditMemberAdded
			if had {
				action = AuditMemberRoleChanged
				lost = lost || rank(rr.Role) < rank(cur)
			}
			u.Memberships[ws] = rr.Role
			changes = append(changes, change{action, ws, rr.Group, cur, rr.Role})
		}
		wasAdmin := u.Admin
		switch {
		case adminGroup != "" && !u.Admin:
			u.Admin, u.RuleAdmin = true, adminGroup
		case adminGroup == "" && u.RuleAdmin != "":
			u.Admin, u.RuleAdmin, lost = false, "", true
		case adminGroup != "":
			u.RuleAdmin = adminGroup
		}
		if len(changes) == 0 && wasAdmin == u.Admin && maps.Equal(before, u.Memberships) {
			return put(users, []byte(userID), u) // RuleRoles may have been tidied
		}
		if err := put(users, []byte(userID), u); err != nil {
			return err
		}
		for _, c := range changes {
			if err := s.record(tx, c.action, userTarget(u), c.ws, map[string]any{"role": []string{c.from, c.to}, "rule": c.group}); err != nil {
				return err
			}
		}
		if wasAdmin != u.Admin {
			group := adminGroup
			if group == "" {
				group = "(none)"
			}
			return s.record(tx, AuditMemberRoleChanged, userTarget(u), "", map[string]any{"instanceAdmin": []bool{wasAdmin, u.Admin}, "rule": group})
		}
		return nil
	})
	return lost, err
}

// rank orders roles by what they allow.
func rank(role string) int {
	switch role {
	case "viewer":
		return 1
	case "ci":
		return 2
	case "developer":
		return 3
	case "admin":
		return 4
	}
	return 0
}

// EndSessions ends every session of a user (a directory said they may no
// longer sign in, or lost a right), recording why.
func (s *Store) EndSessions(userID, why string) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		var u User
		if err := get(tx.Bucket(bucketUsers), []byte(userID), &u); err != nil {
			return err
		}
		var prefixes []string
		forEachPrefix(tx.Bucket(bucketOwnerTokens), userID, func(prefix, _ []byte) bool {
			prefixes = append(prefixes, string(prefix))
			return true
		})
		for _, p := range prefixes {
			if _, err := revokeToken(tx, userID, p); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		return s.record(tx, AuditSessionRevoked, userTarget(u), "", map[string]any{"sessions": n, "why": why})
	})
	return n, err
}
