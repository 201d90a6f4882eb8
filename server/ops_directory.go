package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"hangar/directory"
	"hangar/store"
)

// People from the company's directory (LDAP): their sign-in, their roles
// from group rules at every sign-in and sync, and the sync that takes
// access away from people the directory no longer lists. They know no
// HTTP.

// sourceLDAP is the store's Source of directory users.
const sourceLDAP = "ldap"

var errDirectoryDown = &apiError{503, "DIRECTORY_UNAVAILABLE", orgUnavailable, "the company directory cannot be reached; try again later (local accounts still sign in)"}

// firstFactor is how a user's password was checked: here ("password")
// or by their directory ("ldap").
func firstFactor(u store.User) string {
	if u.Source != "" {
		return u.Source
	}
	return "password"
}

// signInDirectory checks a name that is not a local account with the
// directory and, if it vouches for them, makes or updates the user and
// their roles.
func (s *Server) signInDirectory(ctx context.Context, c *call, t ticket, username, password string) (store.User, error) {
	p, err := s.dir.Authenticate(ctx, username, password)
	switch {
	case errors.Is(err, directory.ErrRefused):
		existing, _ := s.store.UserByName(username)
		s.signInFailed(c, username, existing)
		return store.User{}, errBadCredentials
	case err != nil:
		s.log.Error("directory sign-in", "err", err)
		t.refund()
		return store.User{}, errDirectoryDown
	}
	t.refund()
	u, err := c.st().UpsertExternalUser(sourceLDAP, p.DN, strings.ToLower(p.Username), p.Email)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
			s.log.Warn("directory user cannot be a Hangar user", "dn", p.DN, "err", err)
			return store.User{}, errBadCredentials
		}
		return store.User{}, err
	}
	if u.Disabled {
		s.signInFailed(c, username, u)
		return store.User{}, errBadCredentials
	}
	if _, err := s.applyRules(c.st(), u, p.Groups); err != nil {
		return store.User{}, err
	}
	return s.store.User(u.ID)
}

// rulesFor is what the group rules give someone in groups: roles by
// workspace ID (the highest when several rules give one workspace) and
// the group that makes them an instance admin, if any.
func (s *Server) rulesFor(groups []string) (map[string]store.RuleRole, string) {
	want := map[string]store.RuleRole{}
	admin := ""
	for _, rule := range s.cfg.GroupRoles {
		if !slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(g, rule.Group) }) {
			continue
		}
		if rule.InstanceAdmin {
			admin = rule.Group
			continue
		}
		ws, err := s.store.WorkspaceBySlug(rule.Workspace)
		if err != nil {
			continue // not made yet: the rule applies once it is
		}
		if cur, ok := want[ws.ID]; !ok || roleRank(rule.Role) > roleRank(cur.Role) {
			want[ws.ID] = store.RuleRole{Role: rule.Role, Group: rule.Group}
		}
	}
	return want, admin
}

func roleRank(r string) int {
	return slices.Index([]string{"viewer", "ci", "developer", "admin"}, r)
}

// applyRules sets a directory user's rule-made roles from their groups;
// when they lose a right, their sessions end.
func (s *Server) applyRules(st *store.Store, u store.User, groups []string) (bool, error) {
	want, admin := s.rulesFor(groups)
	lost, err := st.ApplyRuleRoles(u.ID, want, admin)
	if err != nil || !lost {
		return lost, err
	}
	_, err = st.EndSessions(u.ID, "a group rule no longer gives a role")
	return lost, err
}

// SyncDirectory looks every directory user up again every interval, until
// ctx is done: one the directory no longer selects (gone, disabled) has
// their sessions ended; the others' roles follow their groups. An
// unreachable directory changes nothing.
func (s *Server) SyncDirectory(ctx context.Context) {
	if s.dir == nil || s.cfg.LDAP.SyncInterval <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.LDAP.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.syncDirectoryOnce(ctx); err != nil {
				s.log.Error("directory sync", "err", err)
			}
		}
	}
}

func (s *Server) syncDirectoryOnce(ctx context.Context) error {
	users, err := s.store.Users()
	if err != nil {
		return err
	}
	st := s.store.As(store.Actor{Kind: store.ActorSystem, Name: "directory sync"})
	for _, u := range users {
		if u.Source != sourceLDAP || ctx.Err() != nil {
			continue
		}
		p, err := s.dir.Lookup(ctx, u.Username)
		switch {
		case errors.Is(err, directory.ErrRefused):
			if _, err := st.EndSessions(u.ID, "the directory no longer lists them"); err != nil {
				return err
			}
			if _, err := st.ApplyRuleRoles(u.ID, nil, ""); err != nil {
				return err
			}
		case err != nil:
			return err // unreachable: try again next time
		default:
			if _, err := s.applyRules(st, u, p.Groups); err != nil {
				return err
			}
		}
	}
	return nil
}
