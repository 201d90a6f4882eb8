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
	Users     []store.User
	Error     string
	NewSecret string // a password just made, shown once
	For       string // whose
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	var p usersPage
	p.NewSecret, p.For, _ = s.takeShown(r, c)
	return s.renderUsers(w, r, c, http.StatusOK, p)
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, c *call, status int, p usersPage) error {
	users, err := s.store.Users()
	if err != nil {
		return err
	}
	p.Users = users
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
		_, err = c.st.CreateUser(store.User{Username: name, PasswordHash: hash, Admin: r.PostForm.Get("admin") != "", MustChangePassword: true})
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
		err = c.st.SetPassword(u.ID, hash, true)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/users?"+s.showOnce(c, password, u.Username), http.StatusSeeOther)
	return nil
}
