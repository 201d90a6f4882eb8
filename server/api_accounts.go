package server

import (
	"errors"
	"net/http"

	"hangar/store"
)

// Accounts in the workspace API: invitations (of a workspace's admins,
// and of the instance's), their acceptance, offboarding, forgotten
// passwords and address changes. The operations are in ops_accounts.go.

func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	var req inviteRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	v, err := s.invite(c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// listInvitations lists the pending invitations (without their links:
// those were shown once).
func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := s.store.Invitations(c.ws.ID)
	if err != nil {
		return err
	}
	out := make([]invitationView, len(ts))
	for i, t := range ts {
		out[i] = viewInvitation(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RevokeInvitation(c.ws.ID, c.params.ByName("id")); err != nil {
		return notFoundAs(err, "invitation")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) acceptInvitationAPI(w http.ResponseWriter, r *http.Request, c *call) error {
	var req acceptRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := s.acceptInvitation(r.Context(), c, c.params.ByName("id"), req)
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

// offboardUser answers POST /api/v1/user/:username/disable and /enable,
// and DELETE /api/v1/user/:username.
func (s *Server) offboardUser(verb string) handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		u, err := s.offboard(c, c.params.ByName("username"), verb)
		if err != nil {
			return err
		}
		if verb == "delete" {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		v, err := s.viewUser(u)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

type forgotRequest struct {
	Email string `json:"email"`
}

// forgot answers 202 whether or not the address is a user's: a reset link
// goes to it if it is (and [smtp] is set).
func (s *Server) forgot(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.mail == nil {
		return &apiError{http.StatusNotImplemented, "NO_MAIL", orgBadRequest, "this server sends no mail ([smtp] is not set): ask an instance admin to set a new password"}
	}
	var req forgotRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	s.forgotPassword(c, c.base, req.Email)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

type resetRequest struct {
	Password string `json:"password"`
}

func (s *Server) resetAPI(w http.ResponseWriter, r *http.Request, c *call) error {
	var req resetRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if _, err := s.resetPassword(r.Context(), c, c.params.ByName("id"), req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type emailRequest struct {
	Email string `json:"email"`
}

// changeEmailAPI answers POST /api/v1/user/:username/email for the user
// themself: 202, with the confirmation link when no mail carries it.
func (s *Server) changeEmailAPI(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.who.kind != store.TokenSession || c.who.name != c.params.ByName("username") {
		return errForbidden("a user changes their own address")
	}
	var req emailRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	link, err := s.changeEmail(c, req.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, struct {
		URL string `json:"url,omitempty"`
	}{link})
	return nil
}

func (s *Server) confirmEmailAPI(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := c.st().ConfirmEmail(c.params.ByName("id"))
	if err != nil {
		return ticketErr(err)
	}
	v, err := s.viewUser(u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// ticketErr answers a single-use link that cannot be used.
func ticketErr(err error) error {
	if errors.Is(err, store.ErrTokenExpired) {
		return errLinkExpired
	}
	return err
}
