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
	Workspace workspaceRow
	Members   []memberView
	Roles     []string
	Error     string
	Base      string
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request, c *call) {
	s.renderMembers(w, r, c, http.StatusOK, "")
}

func (s *Server) renderMembers(w http.ResponseWriter, r *http.Request, c *call, status int, msg string) {
	ms, err := s.members(c)
	if err != nil {
		s.failPage(w, r, c, err)
		return
	}
	s.renderPage(w, r, status, "members", "Members of "+orText(c.ws.Name, c.ws.Slug), c, membersPage{
		Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)},
		Members:   ms, Roles: []string{"viewer", "ci", "developer", "admin"}, Error: msg, Base: "/w/" + c.ws.Slug + "/members",
	})
}

func (s *Server) memberSubmit(w http.ResponseWriter, r *http.Request, c *call) {
	_, err := s.setMembership(c, setMemberRequest{Kind: store.MemberUser, Username: strings.TrimSpace(r.PostForm.Get("username")), Role: r.PostForm.Get("role")})
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound {
			s.renderMembers(w, r, c, ae.Status, "No such user, or no such role: a user must exist first (an instance admin creates users).")
			return
		}
		s.failPage(w, r, c, err)
		return
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members", http.StatusSeeOther)
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request, c *call) {
	if err := s.removeMembership(c, c.params.ByName("kind"), c.params.ByName("id")); err != nil {
		s.failPage(w, r, c, err)
		return
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/members", http.StatusSeeOther)
}
