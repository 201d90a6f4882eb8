package server

import (
	"errors"
	"net/http"
	"time"

	"hangar/auth"
	"hangar/mail"
	"hangar/store"
)

// Users: created by the instance admin; a user changes their own password.

type userView struct {
	ID                 string            `json:"id"`
	Username           string            `json:"username"`
	Email              string            `json:"email,omitempty"`
	Admin              bool              `json:"admin"`
	Memberships        map[string]string `json:"memberships"` // workspace slug → role
	CreatedAt          time.Time         `json:"createdAt"`
	MustChangePassword bool              `json:"mustChangePassword,omitempty"`
	Disabled           bool              `json:"disabled,omitempty"`
	DisabledAt         time.Time         `json:"disabledAt,omitzero"`
	DisabledBy         string            `json:"disabledBy,omitempty"`
	Source             string            `json:"source,omitempty"` // "ldap": signs in with the directory
}

func (s *Server) viewUser(u store.User) (userView, error) {
	ms, err := s.slugMemberships(u.Memberships)
	return userView{ID: u.ID, Username: u.Username, Email: u.Email, Admin: u.Admin, Memberships: ms, CreatedAt: u.CreatedAt,
		MustChangePassword: u.MustChangePassword, Disabled: u.Disabled, DisabledAt: u.DisabledAt, DisabledBy: u.DisabledBy, Source: u.Source}, err
}

// slugMemberships rekeys memberships by workspace slug, for answers.
func (s *Server) slugMemberships(byID map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(byID))
	for id, role := range byID {
		ws, err := s.store.Workspace(id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[ws.Slug] = role
	}
	return out, nil
}

// hashPassword checks a new password's length (400 if wrong) and hashes it.
func (s *Server) hashPassword(r *http.Request, pw string) (string, error) {
	if err := auth.CheckPassword(pw); err != nil {
		return "", errBadRequest(err.Error())
	}
	return s.hasher.Hash(r.Context(), pw)
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Admin    bool   `json:"admin"`
	Email    string `json:"email"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	var req createUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Email != "" {
		addr, err := mail.ValidAddress(req.Email)
		if err != nil {
			return errBadRequest("email must be one e-mail address (name@example.com)")
		}
		req.Email = addr
	}
	hash, err := s.hashPassword(r, req.Password)
	if err != nil {
		return err
	}
	u, err := c.st().CreateUser(store.User{Username: req.Username, PasswordHash: hash, Admin: req.Admin, Email: req.Email, MustChangePassword: true})
	if err != nil {
		return err
	}
	v, err := s.viewUser(u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c *call) error {
	users, err := s.store.Users()
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		v, err := s.viewUser(u)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type passwordRequest struct {
	Password string `json:"password"`
}

// setPassword changes a user's password: the instance admin for anyone, a
// user for themself. All the user's sessions end.
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.store.UserByName(c.params.ByName("username"))
	// Anyone but the instance admin gets one answer for every name but
	// their own, whether it exists or not: no way to enumerate users.
	if !c.who.admin && (err != nil || c.who.kind != store.TokenSession || c.who.id != u.ID) {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return errForbidden("only the user or an instance admin may change a password")
	}
	if err != nil {
		return notFoundAs(err, "user")
	}
	if u.Source != "" {
		return &apiError{409, "EXTERNAL_ACCOUNT", orgConflict, "this user signs in with the company directory: their password is changed there"}
	}
	var req passwordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	hash, err := s.hashPassword(r, req.Password)
	if err != nil {
		return err
	}
	// A password an admin sets for someone else is theirs to replace.
	if err := c.st().SetPassword(u.ID, hash, c.who.id != u.ID); err != nil {
		return err
	}
	s.passwordChanged(u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
