package server

import (
	"errors"
	"net/http"
	"strings"

	"hangar/store"
)

// The console's pages of single-use links, for people who are not signed
// in: accepting an invitation, asking for a reset link, choosing a new
// password, confirming an address. Opening a link shows a form and
// changes nothing (mail scanners open links); the form's POST does it.
// The operations are the API's (ops_accounts.go).

type linkForm struct {
	Intro, Done, Error, Footer         string
	Action, Button                     string
	AskEmail, AskUsername, AskPassword bool
	Email, Username                    string
}

const linkExpiredText = "This link has expired or was already used. Ask whoever sent it for a new one."

func (s *Server) renderLinkForm(w http.ResponseWriter, r *http.Request, c *call, status int, title string, f linkForm) error {
	s.renderPage(w, r, status, "linkform", title, c, f)
	return nil
}

func (s *Server) invitePage(w http.ResponseWriter, r *http.Request, c *call) error {
	token := c.params.ByName("token")
	t, err := s.store.TicketByPlain(token, store.TicketInvite)
	if err != nil {
		return s.renderLinkForm(w, r, c, http.StatusGone, "Invitation", linkForm{Error: linkExpiredText})
	}
	return s.renderLinkForm(w, r, c, http.StatusOK, "Join Hangar", s.inviteForm(r, t, linkForm{}))
}

func (s *Server) inviteForm(r *http.Request, t store.Ticket, f linkForm) linkForm {
	where := "Hangar"
	if ws, err := s.store.Workspace(t.WorkspaceID); err == nil {
		where = "the workspace " + orText(ws.Name, ws.Slug) + " as " + article(t.Role) + " " + t.Role
	}
	f.Intro = t.CreatedBy + " invited " + t.Email + " to " + where + ". Choose a username and a password to accept."
	f.Action, f.Button, f.AskUsername, f.AskPassword = r.URL.Path, "Create my account", true, true
	f.Footer = "The invitation works once, until " + t.ExpiresAt.UTC().Format("2 Jan 2006 15:04") + " UTC."
	return f
}

func (s *Server) inviteSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	token := c.params.ByName("token")
	t, err := s.store.TicketByPlain(token, store.TicketInvite)
	if err != nil {
		return s.renderLinkForm(w, r, c, http.StatusGone, "Invitation", linkForm{Error: linkExpiredText})
	}
	f := linkForm{Username: strings.TrimSpace(r.PostForm.Get("username"))}
	if r.PostForm.Get("password") != r.PostForm.Get("confirm") {
		f.Error = "The two passwords differ."
		return s.renderLinkForm(w, r, c, http.StatusBadRequest, "Join Hangar", s.inviteForm(r, t, f))
	}
	u, err := s.acceptInvitation(r.Context(), c, token, acceptRequest{Username: f.Username, Password: r.PostForm.Get("password")})
	if err != nil {
		ae, _ := toAPIError(err)
		switch ae.Status {
		case http.StatusBadRequest, http.StatusConflict:
			f.Error = sentence(ae.Message)
			return s.renderLinkForm(w, r, c, ae.Status, "Join Hangar", s.inviteForm(r, t, f))
		case http.StatusGone:
			return s.renderLinkForm(w, r, c, http.StatusGone, "Invitation", linkForm{Error: linkExpiredText})
		}
		return err
	}
	if err := s.startSession(w, r, c, u, "password"); err != nil {
		return err
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// sentence makes an API message a sentence for a page.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.mail == nil {
		return s.renderLinkForm(w, r, c, http.StatusOK, "Forgot your password?", linkForm{
			Intro: "This server sends no mail: ask an instance administrator to give you a new password."})
	}
	return s.renderLinkForm(w, r, c, http.StatusOK, "Forgot your password?", linkForm{
		Intro:  "Give the address of your account: a link to choose a new password goes to it.",
		Action: "/forgot", Button: "Send the link", AskEmail: true})
}

func (s *Server) forgotSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	s.forgotPassword(c, c.base, strings.TrimSpace(r.PostForm.Get("email")))
	// The same page whatever the address: it says nothing of who has one.
	return s.renderLinkForm(w, r, c, http.StatusOK, "Forgot your password?", linkForm{
		Done: "If an account has that address, a link is on its way to it. It works once, for an hour."})
}

func (s *Server) resetPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := s.store.TicketByPlain(c.params.ByName("token"), store.TicketReset); err != nil {
		return s.renderLinkForm(w, r, c, http.StatusGone, "New password", linkForm{Error: linkExpiredText})
	}
	return s.renderLinkForm(w, r, c, http.StatusOK, "Choose a new password", linkForm{
		Action: r.URL.Path, Button: "Set the password", AskPassword: true, Footer: "Every session of your account ends: sign in again afterwards."})
}

func (s *Server) resetSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	form := linkForm{Action: r.URL.Path, Button: "Set the password", AskPassword: true}
	if r.PostForm.Get("password") != r.PostForm.Get("confirm") {
		form.Error = "The two passwords differ."
		return s.renderLinkForm(w, r, c, http.StatusBadRequest, "Choose a new password", form)
	}
	_, err := s.resetPassword(r.Context(), c, c.params.ByName("token"), r.PostForm.Get("password"))
	if err != nil {
		ae, _ := toAPIError(err)
		switch ae.Status {
		case http.StatusBadRequest:
			form.Error = sentence(ae.Message)
			return s.renderLinkForm(w, r, c, http.StatusBadRequest, "Choose a new password", form)
		case http.StatusGone:
			return s.renderLinkForm(w, r, c, http.StatusGone, "New password", linkForm{Error: linkExpiredText})
		}
		return err
	}
	return s.renderLinkForm(w, r, c, http.StatusOK, "New password", linkForm{Done: "Your password was changed. Sign in with it."})
}

func (s *Server) confirmEmailPage(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := s.store.TicketByPlain(c.params.ByName("token"), store.TicketEmail)
	if err != nil {
		return s.renderLinkForm(w, r, c, http.StatusGone, "Confirm your address", linkForm{Error: linkExpiredText})
	}
	return s.renderLinkForm(w, r, c, http.StatusOK, "Confirm your address", linkForm{
		Intro: "Make " + t.Email + " the address of your Hangar account?", Action: r.URL.Path, Button: "Confirm"})
}

func (s *Server) confirmEmailSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := c.st().ConfirmEmail(c.params.ByName("token"))
	switch {
	case errors.Is(err, store.ErrTokenExpired):
		return s.renderLinkForm(w, r, c, http.StatusGone, "Confirm your address", linkForm{Error: linkExpiredText})
	case errors.Is(err, store.ErrConflict):
		return s.renderLinkForm(w, r, c, http.StatusConflict, "Confirm your address", linkForm{Error: "Another account has this address now."})
	case err != nil:
		return err
	}
	return s.renderLinkForm(w, r, c, http.StatusOK, "Confirm your address", linkForm{Done: u.Email + " is now the address of " + u.Username + "."})
}
