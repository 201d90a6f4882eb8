package server

import (
	"hangar/auth"
	"hangar/store"
)

// Operations on a workspace's members and service accounts that the API
// and the console share: they know no HTTP.

type setMemberRequest struct {
	Kind     string `json:"kind"`     // "user" (default) or "service-account"
	Username string `json:"username"` // for users
	ID       string `json:"id"`       // for service accounts
	Role     string `json:"role"`
}

// members lists the request workspace's users and service accounts with
// their roles.
func (s *Server) members(c *call) ([]memberView, error) {
	users, err := s.store.Users()
	if err != nil {
		return nil, err
	}
	sas, err := s.store.ServiceAccounts()
	if err != nil {
		return nil, err
	}
	out := []memberView{}
	for _, u := range users {
		if role, ok := u.Memberships[c.ws.ID]; ok {
			out = append(out, memberView{store.MemberUser, u.ID, u.Username, role, u.RuleRoles[c.ws.ID]})
		}
	}
	for _, sa := range sas {
		if role, ok := sa.Memberships[c.ws.ID]; ok {
			out = append(out, memberView{Kind: store.MemberServiceAccount, ID: sa.ID, Name: sa.Name, Role: role})
		}
	}
	return out, nil
}

// setMembership gives a member a role in the request's workspace, as the
// API and the console ask.
func (s *Server) setMembership(c *call, req setMemberRequest) (memberView, error) {
	if req.Kind == "" {
		req.Kind = store.MemberUser
	}
	if !auth.ValidRole(req.Role) {
		return memberView{}, errBadRequest("role must be viewer, ci, developer or admin")
	}
	name := req.ID
	if req.Kind == store.MemberUser {
		name = req.Username
	}
	id, err := s.memberID(req.Kind, name)
	if err == nil && req.Kind == store.MemberServiceAccount && !c.who.admin {
		// A workspace admin could otherwise mint tokens for any account
		// made a member here, with whatever it may do elsewhere.
		if sa, _ := s.store.ServiceAccount(id); reachesBeyond(sa, c.ws.ID) {
			err = errForbidden("this service account belongs to another workspace (or is an instance admin): only an instance admin may add it")
		}
	}
	if err == nil {
		err = s.byHand(req.Kind, id, c.ws.ID)
	}
	if err == nil {
		err = c.st().SetMembership(req.Kind, id, c.ws.ID, req.Role)
	}
	return memberView{Kind: req.Kind, ID: id, Name: name, Role: req.Role}, err
}

// removeMembership takes a member's role in the request's workspace away.
func (s *Server) removeMembership(c *call, kind, nameOrID string) error {
	id, err := s.memberID(kind, nameOrID)
	if err != nil {
		return err
	}
	if err := s.byHand(kind, id, c.ws.ID); err != nil {
		return err
	}
	return c.st().SetMembership(kind, id, c.ws.ID, "")
}

// byHand refuses to change a role a group rule gives: the next sign-in
// would set it again.
func (s *Server) byHand(kind, id, workspaceID string) error {
	if kind != store.MemberUser {
		return nil
	}
	if u, err := s.store.User(id); err == nil && u.RuleRoles[workspaceID] != "" {
		return &apiError{409, "ROLE_FROM_DIRECTORY", orgConflict, "this role comes from the directory group " + u.RuleRoles[workspaceID] + ": change the group, or the [[group_role]] rule"}
	}
	return nil
}

type createServiceAccountRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// newServiceAccount creates a service account with a role in the request's
// workspace and its first token, as the API and the console ask.
func (s *Server) newServiceAccount(c *call, req createServiceAccountRequest) (store.ServiceAccount, string, store.Token, error) {
	if req.Name == "" || len(req.Name) > 100 {
		return store.ServiceAccount{}, "", store.Token{}, errBadRequest("name must be 1 to 100 characters")
	}
	if !auth.ValidRole(req.Role) {
		return store.ServiceAccount{}, "", store.Token{}, errBadRequest("role must be viewer, ci, developer or admin")
	}
	sa, err := c.st().CreateServiceAccount(store.ServiceAccount{Name: req.Name, Memberships: map[string]string{c.ws.ID: req.Role}})
	if err != nil {
		return sa, "", store.Token{}, err
	}
	plain, tok, err := c.st().CreateToken(store.Token{Kind: store.TokenServiceAccount, OwnerID: sa.ID, Name: req.Name})
	return sa, plain, tok, err
}

// removeServiceAccount takes the path's service account out of the
// request's workspace, deleting it (and its tokens) when that was its only
// one, as the API and the console ask.
func (s *Server) removeServiceAccount(c *call) error {
	sa, err := s.workspaceServiceAccount(c)
	if err != nil {
		return err
	}
	if len(sa.Memberships) == 1 && !sa.Admin {
		return c.st().DeleteServiceAccount(sa.ID)
	}
	return c.st().SetMembership(store.MemberServiceAccount, sa.ID, c.ws.ID, "")
}

// confinedServiceAccount is workspaceServiceAccount for changes a workspace
// admin may make only to an account of their workspace alone.
func (s *Server) confinedServiceAccount(c *call) (store.ServiceAccount, error) {
	sa, err := s.workspaceServiceAccount(c)
	if err == nil && !c.who.admin && reachesBeyond(sa, c.ws.ID) {
		err = errForbidden("this service account is not this workspace's alone (a member elsewhere, or an instance admin): only an instance admin may manage its tokens")
	}
	return sa, err
}
