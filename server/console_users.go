package server

import (
	"net/http"
	"strings"

	"hangar/auth"
	"hangar/store"
)

// The instance's users (instance admins): list them, create one, or give one
// a new password. Hangar makes the password (auth.NewPassword) and shows it
// this once, for the admin to hand over; the user changes it on their
// account page. The operations are the API's: hashPassword, the store's
// CreateUser and SetPassword (which ends the user's sessions).

type usersPage struct {
	Users       []store.User
	Invitations []store.Ticket // pending invitations into the instance
	Error, Done string
	NewSecret   string // a password just made, shown once
	NewLink     string // an invitation's link, when no mail carries it: shown once
	For         string // whose
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	sh := s.takeShownOrInvited(r, c)
	return s.renderUsers(w, r, c, http.StatusOK, usersPage{NewSecret: sh.secret, NewLink: sh.link, For: sh.whose, Done: sh.done})
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, c *call, status int, p usersPage) error {
	users, err := s.store.Users()
	if err != nil {
		return err
	}
	p.Users = users
	if p.Invitations, err = s.store.Invitations(""); err != nil {
		return err
	}
	s.renderPage(w, r, status, "users", "Users", c, p)
	return nil
}

func (s *Server) createUserSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	name := strings.TrimSpace(r.PostForm.Get("username"))
	if !store.ValidUsername(name) {
		return s.renderUsers(w, r, c, http.StatusBadRequest, usersPage{Error: "A username is 1 to 64 letters, digits and . _ - @, starting with a letter or digit."})
	}
	password := auth.NewPassword()
	hash, err := s.hashPassword(r, password)
	if err == nil {
		_, err = c.st().CreateUser(store.User{Username: name, PasswordHash: hash, Admin: r.PostForm.Get("admin") != "", MustChangePassword: true})
	}
	if err != nil {
		if msg, ok := formError(err); ok {
			return s.renderUsers(w, r, c, http.StatusBadRequest, usersPage{Error: strings.Replace(msg, "slug", "username", 1)})
		}
		return err
	}
	http.Redirect(w, r, "/users?"+s.showOnce(c, password, name), http.StatusSeeOther)
	return nil
}

func (s *Server) resetPasswordSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.store.UserByName(c.params.ByName("username"))
	if err != nil {
		return notFoundAs(err, "user")
	}
	password := auth.NewPassword()
	hash, err := s.hashPassword(r, password)
	if err == nil {
		err = c.st().SetPassword(u.ID, hash, true)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/users?"+s.showOnce(c, password, u.Username), http.StatusSeeOther)
	return nil
}

// inviteUserSubmit invites an address into the instance (no workspace;
// an instance admin when asked): the link is mailed, or shown once.
func (s *Server) inviteUserSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := s.invite(c, inviteRequest{Email: strings.TrimSpace(r.PostForm.Get("email")), Admin: r.PostForm.Get("admin") != ""})
	if err != nil {
		if msg, ok := formError(err); ok {
			return s.renderUsers(w, r, c, http.StatusBadRequest, usersPage{Error: "Invitation: " + msg})
		}
		return err
	}
	return s.invited(w, r, c, "/users", v)
}

func (s *Server) revokeUserInvitationSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RevokeInvitation("", c.params.ByName("id")); err != nil {
		return notFoundAs(err, "invitation")
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
	return nil
}

// offboardSubmit disables, enables or deletes a user (the API's
// offboard).
func (s *Server) offboardSubmit(verb string) handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if _, err := s.offboard(c, c.params.ByName("username"), verb); err != nil {
			if ae, _ := toAPIError(err); ae.Status == http.StatusConflict {
				return s.renderUsers(w, r, c, http.StatusConflict, usersPage{Error: sentence(ae.Message)})
			}
			return err
		}
		http.Redirect(w, r, "/users", http.StatusSeeOther)
		return nil
	}
}
