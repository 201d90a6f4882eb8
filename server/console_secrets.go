package server

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A secret a console form makes (a user's password, a token, a webhook's
// signing secret) is shown on the page the form redirects to (303), once:
// the redirect names it by a random id, and the page takes it, so that a
// reload shows it no more and offers to post nothing. It waits in memory
// only (a restart forgets it: make another), for the session that made
// it, for oneTimeTTL at most.

const (
	oneTimeTTL = 10 * time.Minute
	oneTimeMax = 256 // waiting at once; beyond, the oldest is dropped
)

type oneTimeSecret struct {
	session       string // the hash of the session token that made it
	secret, label string
	at            time.Time
}

type oneTimeSecrets struct {
	mu sync.Mutex
	m  map[string]oneTimeSecret
}

// showOnce keeps secret (and whose it is, label) for c's session and
// returns the query that shows it: "shown=ID".
func (s *Server) showOnce(c *call, secret, label string) string {
	b := make([]byte, 16)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	o := &s.oneTime
	now := s.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]oneTimeSecret{}
	}
	if len(o.m) >= oneTimeMax {
		oldest := ""
		for k, v := range o.m {
			if now.Sub(v.at) > oneTimeTTL {
				delete(o.m, k)
			} else if oldest == "" || v.at.Before(o.m[oldest].at) {
				oldest = k
			}
		}
		if len(o.m) >= oneTimeMax {
			delete(o.m, oldest)
		}
	}
	o.m[id] = oneTimeSecret{session: string(c.who.token.Hash), secret: secret, label: label, at: now}
	return "shown=" + id
}

// takeShown returns, and forgets, the secret the request's shown= names,
// if it is this session's and fresh.
func (s *Server) takeShown(r *http.Request, c *call) (secret, label string, ok bool) {
	id := r.URL.Query().Get("shown")
	if id == "" || c.who == nil {
		return "", "", false
	}
	o := &s.oneTime
	o.mu.Lock()
	defer o.mu.Unlock()
	v, found := o.m[id]
	if !found || v.session != string(c.who.token.Hash) {
		return "", "", false
	}
	delete(o.m, id)
	if s.now().Sub(v.at) > oneTimeTTL {
		return "", "", false
	}
	return v.secret, v.label, true
}

// invitedLabel marks a shown secret that is an invitation's link (not a
// password or token), for the page that shows it.
const invitedLabel = "invitation for "

// invited answers an invitation made on a console page: back to page,
// saying the mail is on its way, or showing the link once when no mail
// carries it.
func (s *Server) invited(w http.ResponseWriter, r *http.Request, c *call, page string, v invitationView) error {
	if v.Mailed {
		http.Redirect(w, r, page+"?mailed="+url.QueryEscape(v.Email), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, page+"?"+s.showOnce(c, v.URL, invitedLabel+v.Email), http.StatusSeeOther)
	return nil
}

// shownOrInvited is what a page shows once after a redirect: a secret
// (a password, a token) or an invitation's link, whose it is, or that an
// invitation was mailed.
type shownOrInvited struct{ secret, link, whose, done string }

func (s *Server) takeShownOrInvited(r *http.Request, c *call) shownOrInvited {
	var sh shownOrInvited
	secret, label, _ := s.takeShown(r, c)
	if whose, ok := strings.CutPrefix(label, invitedLabel); ok {
		sh.link, sh.whose = secret, whose
	} else {
		sh.secret, sh.whose = secret, label
	}
	if to := r.URL.Query().Get("mailed"); to != "" {
		sh.done = "The invitation is on its way to " + to + "."
	}
	return sh
}
