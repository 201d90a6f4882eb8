package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"hangar/store"
)

// The audit log as the fronts read it: who a caller is to the log, and
// the query both of its routes take. The store writes the entries.

// actor is who the log records a request's changes as: its principal, or
// an anonymous caller, from the request's client address.
func (s *Server) actor(r *http.Request, who *principal) store.Actor {
	a := store.Actor{Kind: store.ActorAnonymous}
	if ip := s.clientIP(r); ip.IsValid() {
		a.ClientIP = ip.String()
	}
	if who == nil {
		return a
	}
	a.ID, a.Name = who.id, who.name
	switch who.kind {
	case store.TokenSession:
		a.Kind = store.ActorUser
	case store.TokenServiceAccount:
		a.Kind = store.ActorServiceAccount
	case store.TokenApp:
		// An app token is named by its prefix (its owner is a project).
		a.Kind, a.ID = store.ActorAppToken, who.token.Prefix
	}
	return a
}

// as is the store as user u, from the request's address: for what a
// request does on behalf of a user it has just identified (a sign-in).
func (c *call) as(u store.User) *store.Store {
	a := c.st().Actor()
	a.Kind, a.ID, a.Name = store.ActorUser, u.ID, u.Username
	return c.st().As(a)
}

// auditQuery reads the filters of an audit log request.
func auditQuery(r *http.Request) (store.AuditQuery, error) {
	q := r.URL.Query()
	aq := store.AuditQuery{Actor: q.Get("actor"), Action: q.Get("action"), Cursor: q.Get("cursor")}
	var err error
	if v := q.Get("limit"); v != "" {
		if aq.Limit, err = strconv.Atoi(v); err != nil || aq.Limit < 1 || aq.Limit > 1000 {
			return aq, errBadRequest("limit must be a whole number from 1 to 1000")
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &aq.Since}, {"until", &aq.Until}} {
		if v := q.Get(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				return aq, errBadRequest(t.name + " must be a time in RFC 3339 (2026-01-02T15:04:05Z)")
			}
		}
	}
	if len(aq.Actor) > 128 || len(aq.Action) > 64 {
		return aq, errBadRequest("actor or action too long")
	}
	return aq, nil
}

// auditPage is an answer of the audit log routes: newest first, with the
// cursor of the next page (also in a Link header).
type auditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	Next    string             `json:"next,omitempty"`
}

// listAudit answers GET /api/v1/audit (every entry: instance admins) and
// GET /api/v1/workspace/:ws/audit (the workspace's: its admins).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := auditQuery(r)
	if err != nil {
		return err
	}
	q.Workspace = c.ws.ID
	entries, next, err := s.store.AuditLog(q)
	if errors.Is(err, store.ErrInvalid) {
		return errBadRequest("cursor is not one this list handed out")
	}
	if err != nil {
		return err
	}
	linkNext(w, r, next)
	writeJSON(w, http.StatusOK, auditPage{Entries: entries, Next: next})
	return nil
}
