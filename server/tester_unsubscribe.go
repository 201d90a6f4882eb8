package server

import (
	"net/http"
	"strings"
)

// A notification's unsubscribe link, /t/unsubscribe/{token}: opening it
// shows a button (mail scanners open links); the button, or a mail
// client's one-click POST of "List-Unsubscribe=One-Click" (RFC 8058, sent
// from the provider, not this site), unsubscribes at once. The token is
// the proof: it names the scope and the address's digest under an HMAC.

func (s *Server) unsubscribeScope(c *call) (scope, digest, what string, err error) {
	scope, digest, ok := s.readOptOutToken(c.params.ByName("token"))
	if !ok {
		return "", "", "", errNotFound("link")
	}
	if wsID, ok := strings.CutPrefix(scope, "w:"); ok {
		ws, err := s.store.Workspace(wsID)
		if err != nil {
			return "", "", "", errNotFound("link")
		}
		return scope, digest, "new builds in " + orText(ws.Name, ws.Slug), nil
	}
	d, err := s.store.Distribution(scope)
	if err != nil {
		return "", "", "", errNotFound("link")
	}
	return scope, digest, "new builds on " + orText(d.Name, d.Slug), nil
}

// unsubscribePage shows the state and the button that changes it.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request, c *call) error {
	scope, digest, what, err := s.unsubscribeScope(c)
	if err != nil {
		return err
	}
	v := testerView{Title: "Mail about " + what, Unsubscribe: &unsubscribeView{Action: r.URL.Path, What: what, Out: s.store.OptedOut(scope, digest)}}
	return s.renderTester(w, r, v)
}

// unsubscribe takes the button or the one-click POST; "resubscribe" in
// the form subscribes again.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request, c *call) error {
	scope, digest, _, err := s.unsubscribeScope(c)
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	out := r.PostForm.Get("resubscribe") == ""
	if err := s.store.SetOptOut(scope, digest, out); err != nil {
		return err
	}
	if r.PostForm.Get("List-Unsubscribe") == "One-Click" {
		w.WriteHeader(http.StatusOK) // a mail client's request: nobody reads the page
		return nil
	}
	http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
	return nil
}

// unsubscribeView is the unsubscribe page's state.
type unsubscribeView struct {
	Action, What string
	Out          bool // unsubscribed
}
