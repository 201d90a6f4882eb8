package server

import (
	"net/http"
	"strings"

	"hangar/store"
)

// A workspace's members page (workspace admins): who has which role, give a
// user a role or change it, remove a member. The API's operations
// (members, setMembership, store.SetMembership).

type membersPage struct {
	Workspace   workspaceRow
	Members     []memberView
	Invitations []store.Ticket
	Roles       []string
	Error, Done string
	Base        string
	NewToken    string // a service account's token just made: shown once
	NewLink     string // an invitation's link, when no mail carries it: shown once
	For         string // whose
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	sh := s.takeShownOrInvited(r, c)
	return s.renderMembers(w, r, c, http.StatusOK, membersPage{NewToken: sh.secret, NewLink: sh.link, For: sh.whose, Done: sh.done})
}

func (s *Server) renderMembers(w http.ResponseWriter, r *http.Request, c *call, status int, p membersPage) error {
	ms, err := s.members(c)
	if err != nil {
		return err
	}
	p.Workspace = workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}
	p.Members, p.Roles, p.Base = ms, []string{"viewer", "ci", "developer", "admin"}, "/w/"+c.ws.Slug+"/members"
	if p.Invitations, err = s.store.Invitations(c.ws.ID); err != nil {
		return err
	}
	s.renderPage(w, r, status, "members", "Members of "+orText(c.ws.Name, c.ws.Slug), c, p)
	return nil
}

func (s *Server) memberSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	_, err := s.setMembership(c, setMemberRequest{Kind: store.MemberUser, Username: strings.TrimSpace(r.PostForm.Get("username")), Role: r.PostForm.Get("role")})
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound {
			return s.renderMembers(w, r, c, ae.Status, membersPage{Error: "No such user, or no such role: a user must exist first (an instance admin creates users)."})
		}
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members", http.StatusSeeOther)
	return nil
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.removeMembership(c, c.params.ByName("kind"), c.params.ByName("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members", http.StatusSeeOther)
	return nil
}

// serviceAccountSubmit creates a service account with a role here and shows
// its first token once (the API's newServiceAccount).
func (s *Server) serviceAccountSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	sa, plain, _, err := s.newServiceAccount(c, createServiceAccountRequest{Name: strings.TrimSpace(r.PostForm.Get("name")), Role: r.PostForm.Get("role")})
	if err != nil {
		if msg, ok := formError(err); ok {
			return s.renderMembers(w, r, c, http.StatusBadRequest, membersPage{Error: "Service account: " + msg})
		}
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members?"+s.showOnce(c, plain, sa.Name), http.StatusSeeOther)
	return nil
}

// serviceAccountToken gives one of this workspace's own service accounts a
// new token, shown once (the API's rule: an account that reaches beyond
// the workspace is the instance admin's).
func (s *Server) serviceAccountToken(w http.ResponseWriter, r *http.Request, c *call) error {
	sa, err := s.confinedServiceAccount(c)
	if err != nil {
		return err
	}
	plain, _, err := c.st().CreateToken(store.Token{Kind: store.TokenServiceAccount, OwnerID: sa.ID, Name: sa.Name})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members?"+s.showOnce(c, plain, sa.Name), http.StatusSeeOther)
	return nil
}

func (s *Server) serviceAccountRemove(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.removeServiceAccount(c); err != nil {
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members", http.StatusSeeOther)
	return nil
}

// inviteMemberSubmit invites an address into this workspace with a role:
// the link is mailed, or shown once.
func (s *Server) inviteMemberSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := s.invite(c, inviteRequest{Email: strings.TrimSpace(r.PostForm.Get("email")), Role: r.PostForm.Get("role")})
	if err != nil {
		if msg, ok := formError(err); ok {
			return s.renderMembers(w, r, c, http.StatusBadRequest, membersPage{Error: "Invitation: " + msg})
		}
		return err
	}
	return s.invited(w, r, c, "/w/"+c.ws.Slug+"/members", v)
}

func (s *Server) revokeMemberInvitationSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RevokeInvitation(c.ws.ID, c.params.ByName("id")); err != nil {
		return notFoundAs(err, "invitation")
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members", http.StatusSeeOther)
	return nil
}
