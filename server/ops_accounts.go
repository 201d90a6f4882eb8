package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hangar/auth"
	"hangar/mail"
	"hangar/store"
)

// Accounts as the API and the console share them: invitations, password
// resets and address confirmations (single-use links, mailed when there
// is [smtp], shown to whoever asked otherwise), and offboarding. They
// know no HTTP.

type inviteRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`  // into a workspace
	Admin bool   `json:"admin"` // instance invitations: an instance admin
}

// invitationView is an invitation as answered: its link is always there
// (mailed too when Mailed).
type invitationView struct {
	ID        string    `json:"invitationId"`
	Email     string    `json:"email"`
	Role      string    `json:"role,omitempty"`
	Admin     bool      `json:"admin,omitempty"`
	URL       string    `json:"url,omitempty"`
	Mailed    bool      `json:"mailed"`
	CreatedBy string    `json:"createdBy,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func viewInvitation(t store.Ticket) invitationView {
	return invitationView{ID: t.ID, Email: t.Email, Role: t.Role, Admin: t.Admin, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// invite invites an address into the request's workspace with a role
// (c.ws set), or into the instance (c.ws zero: a user of no workspace,
// or an instance admin).
func (s *Server) invite(c *call, req inviteRequest) (invitationView, error) {
	addr, err := mail.ValidAddress(req.Email)
	if err != nil {
		return invitationView{}, errBadRequest("email must be one e-mail address (name@example.com)")
	}
	t := store.Ticket{Kind: store.TicketInvite, Email: addr, CreatedBy: c.who.name}
	where := "Hangar"
	if c.ws.ID != "" {
		if !auth.ValidRole(req.Role) {
			return invitationView{}, errBadRequest("role must be viewer, ci, developer or admin")
		}
		t.WorkspaceID, t.Role = c.ws.ID, req.Role
		where = "the workspace " + c.ws.Name
	} else {
		t.Admin = req.Admin
		if t.Admin {
			where = "Hangar, as an instance administrator"
		}
	}
	var url string
	compose := func(plain string) store.Mail {
		url = c.base + "/invite/" + plain
		if s.mail == nil {
			return store.Mail{}
		}
		lines := []string{fmt.Sprintf("%s invites you to %s.", c.who.name, where)}
		if t.Role != "" {
			lines = append(lines, "You will join as "+article(t.Role)+" "+t.Role+".")
		}
		return composeMail(addr, "You are invited to "+where, mailWords{
			Greeting: "Hello,", Lines: lines, Action: "Accept the invitation", URL: url,
			After: []string{"The link works once, for 7 days. If you did not expect it, ignore this mail: nothing happens without you."},
		})
	}
	_, t, err = c.st().CreateTicket(t, compose)
	mailed := s.mail != nil && err == nil
	if errors.Is(err, store.ErrMailDropped) {
		s.log.Warn("invitation mail not queued", "invitation", t.ID, "err", err)
		mailed, err = false, nil
	}
	if err != nil {
		return invitationView{}, err
	}
	s.wakeMail()
	v := viewInvitation(t)
	v.URL, v.Mailed = url, mailed
	return v, nil
}

func article(word string) string {
	if word != "" && (word[0] == 'a' || word[0] == 'e' || word[0] == 'i' || word[0] == 'o' || word[0] == 'u') {
		return "an"
	}
	return "a"
}

func (s *Server) wakeMail() {
	if s.mail != nil {
		s.mail.Wake()
	}
}

type acceptRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// acceptInvitation makes the invited user with the username and password
// they chose. Unknown, used and expired invitations get one answer.
func (s *Server) acceptInvitation(ctx context.Context, c *call, token string, req acceptRequest) (store.User, error) {
	if _, err := c.st().TicketByPlain(token, store.TicketInvite); err != nil {
		return store.User{}, errLinkExpired
	}
	if !store.ValidUsername(req.Username) {
		return store.User{}, errBadRequest("a username is 1 to 64 letters, digits and . _ - @, starting with a letter or digit")
	}
	if err := auth.CheckPassword(req.Password); err != nil {
		return store.User{}, errBadRequest(err.Error())
	}
	hash, err := s.hasher.Hash(ctx, req.Password)
	if err != nil {
		return store.User{}, err
	}
	u, err := c.st().AcceptInvitation(token, store.User{Username: req.Username, PasswordHash: hash})
	switch {
	case errors.Is(err, store.ErrTokenExpired):
		return store.User{}, errLinkExpired
	case errors.Is(err, store.ErrConflict):
		return store.User{}, &apiError{409, "CONFLICT", orgConflict, "that username is taken; choose another"}
	}
	return u, err
}

// errLinkExpired answers every link that cannot be used: unknown, used,
// expired or revoked alike.
var errLinkExpired = &apiError{410, "LINK_EXPIRED", orgTokenExpired, "this link has expired or was already used; ask for a new one"}

// forgotPassword mails a reset link to the user with this address, if
// there is one who can sign in; the caller answers the same either way.
// The work happens after the answer, so that its time says nothing.
func (s *Server) forgotPassword(c *call, base, addr string) {
	if s.mail == nil {
		return
	}
	addr, err := mail.ValidAddress(addr)
	if err != nil {
		return
	}
	st := c.st()
	select {
	case s.resets <- struct{}{}:
	default:
		return // a flood: its mail is bounded per address anyway
	}
	go func() {
		defer func() { <-s.resets }()
		u, err := s.store.UserByEmail(addr)
		if err != nil || u.Disabled || u.Source != "" {
			return // a directory user's password is the directory's
		}
		_, _, err = st.CreateTicket(store.Ticket{Kind: store.TicketReset, Email: u.Email, UserID: u.ID}, func(plain string) store.Mail {
			return composeMail(u.Email, "Reset your Hangar password", mailWords{
				Greeting: "Hello " + u.Username + ",",
				Lines:    []string{"Someone (we hope you) asked to reset your Hangar password."},
				Action:   "Choose a new password", URL: base + "/reset/" + plain,
				After: []string{"The link works once, for an hour. If you did not ask for it, ignore this mail: your password stays as it is."},
			})
		})
		if err != nil && !errors.Is(err, store.ErrMailDropped) {
			s.log.Error("password reset", "err", err)
		}
		s.wakeMail()
	}()
}

// resetPassword redeems a reset link with a new password.
func (s *Server) resetPassword(ctx context.Context, c *call, token, password string) (store.User, error) {
	if _, err := c.st().TicketByPlain(token, store.TicketReset); err != nil {
		return store.User{}, errLinkExpired
	}
	if err := auth.CheckPassword(password); err != nil {
		return store.User{}, errBadRequest(err.Error())
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return store.User{}, err
	}
	u, err := c.st().ResetPassword(token, hash)
	if errors.Is(err, store.ErrTokenExpired) {
		return store.User{}, errLinkExpired
	}
	if err == nil {
		s.passwordChanged(u)
	}
	return u, err
}

// passwordChanged forgets the first start's credentials once the user
// admin's password is no longer the one written there.
func (s *Server) passwordChanged(u store.User) {
	if u.Username == "admin" {
		s.depot.ForgetFirstCredentials()
	}
}

// changeEmail asks to change the caller's address: a confirmation link
// to the new address, mailed (or, without [smtp], returned to show).
func (s *Server) changeEmail(c *call, addr string) (link string, err error) {
	addr, err = mail.ValidAddress(addr)
	if err != nil {
		return "", errBadRequest("email must be one e-mail address (name@example.com)")
	}
	if u, err := s.store.UserByEmail(addr); err == nil && u.ID != c.who.id {
		return "", &apiError{409, "CONFLICT", orgConflict, "another user has that address"}
	}
	_, _, err = c.st().CreateTicket(store.Ticket{Kind: store.TicketEmail, Email: addr, UserID: c.who.id}, func(plain string) store.Mail {
		link = c.base + "/confirm-email/" + plain
		if s.mail == nil {
			return store.Mail{}
		}
		return composeMail(addr, "Confirm your address for Hangar", mailWords{
			Greeting: "Hello " + c.who.name + ",",
			Lines:    []string{"Confirm that this is your address for Hangar: its mail will come here."},
			Action:   "Confirm this address", URL: link,
			After: []string{"The link works once, for a day. If you did not ask for it, ignore this mail."},
		})
	})
	if errors.Is(err, store.ErrMailDropped) {
		err = nil
	}
	if err != nil {
		return "", err
	}
	s.wakeMail()
	if s.mail != nil {
		return "", nil
	}
	return link, nil
}

// offboard disables, enables or deletes a user (instance admins).
func (s *Server) offboard(c *call, username, verb string) (store.User, error) {
	u, err := s.store.UserByName(username)
	if err != nil {
		return u, notFoundAs(err, "user")
	}
	switch verb {
	case "delete":
		err = c.st().DeleteUser(u.ID)
	case "disable":
		u, err = c.st().SetDisabled(u.ID, true)
	default:
		u, err = c.st().SetDisabled(u.ID, false)
	}
	if errors.Is(err, store.ErrLastAdmin) {
		return u, &apiError{409, "LAST_ADMIN", orgConflict, "the last instance admin who can sign in cannot be disabled or deleted; make another one first"}
	}
	return u, err
}
