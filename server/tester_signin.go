package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hangar/auth"
	"hangar/mail"
	"hangar/store"
)

// Testers' sign-in by link. A page for tester groups (security
// "testers") shows a form for an address; if the address is in one of
// the page's groups, a link is mailed to it (/t/signin/{token}: single
// use, a quarter of an hour), and opening it gives the device a tester
// session (a cookie for [testers] session_ttl). The session opens every
// page whose groups hold the address, for as long as they hold it and
// the workspace has not signed the tester out. The form's answer is the
// same whether or not the address is on a list, and takes as long: the
// link is made after the answer.

// testerCookie holds a device's tester session.
const testerCookie = "hangar_tester"

// testerMember marks a tester session's ID where a page's signed URLs name
// who the page was shown to (a user ID otherwise).
const testerMember = "t."

// Sign-in links asked for: per client network, and per address from
// everywhere (besides the mail outbox's own hourly bound per recipient).
var (
	testerLinkPerIP   = auth.Limiter{Burst: 10, Every: 30 * time.Second}
	testerLinkPerAddr = auth.Limiter{Burst: 3, Every: 5 * time.Minute}
)

// testerSession returns the request's live tester session, if any.
func (s *Server) testerSession(r *http.Request) (store.TesterSession, bool) {
	ck, err := r.Cookie(testerCookie)
	if err != nil {
		return store.TesterSession{}, false
	}
	sess, err := s.store.TesterSessionByToken(ck.Value)
	return sess, err == nil
}

// reader is who opens page t: a console user who may (their user ID), a
// tester whose session may ("t." and its ID), or "" for nobody; and the
// name to show them (their username, a tester's address). A user found
// is c.who.
func (s *Server) reader(r *http.Request, c *call, t testerSite) (member, name string) {
	if p, err := s.authenticate(r, true); err == nil && s.mayOpen(t, p.id) {
		c.who = p
		return p.id, p.name
	}
	if t.audience == store.SecurityTesters {
		if sess, ok := s.testerSession(r); ok && s.store.TesterMayOpen(sess, t.workspace, t.groups) {
			return testerMember + sess.ID, sess.Email
		}
	}
	return "", ""
}

// testerSignInView is a page for testers' sign-in form.
type testerSignInView struct {
	Action       string // where the form posts
	Sent         bool   // the form was sent: check your mail
	NoMail       bool   // this server sends no mail
	Other        bool   // a session that does not open this page
	Wrong        string
	MemberSignIn string
}

// signInForm is a testers page's answer to someone it does not open for.
func (s *Server) signInForm(w http.ResponseWriter, r *http.Request, t testerSite, status int, v testerSignInView) error {
	v.Action, v.NoMail = t.page+"/signin", s.mail == nil
	v.MemberSignIn = "/signin?next=" + url.QueryEscape(t.page)
	if _, ok := s.testerSession(r); ok && !v.Sent {
		v.Other = true
	}
	return s.renderTester(w, r, testerView{Status: status, Title: "Sign in to install", TesterSignIn: &v})
}

// askTesterLink takes a testers page's form: an address to mail a sign-in
// link to.
func (s *Server) askTesterLink(w http.ResponseWriter, r *http.Request, c *call) error {
	ws, d, err := s.distribution(c)
	if err != nil || d.Security != store.SecurityTesters {
		return s.noDistPage(w, r)
	}
	t := distSite(c.base, ws, d)
	return s.takeLinkForm(w, r, func(status int, v testerSignInView) error { return s.signInForm(w, r, t, status, v) },
		func(addr string) { s.mailTesterLink(c, t, ws, d, addr) })
}

// takeLinkForm takes a form asking for a sign-in link (a testers page's,
// /apps'): from this site, one address, within the limits; then send
// mails the link if the address may have one, after the answer, which
// is the same either way. form renders the page's form with a status.
func (s *Server) takeLinkForm(w http.ResponseWriter, r *http.Request, form func(int, testerSignInView) error, send func(addr string)) error {
	if err := s.checkForm(r, &call{}, false); err != nil {
		return s.renderTester(w, r, testerView{Status: http.StatusForbidden, Title: "Not sent from this page", Message: "Open the page and enter your address there."})
	}
	if err := r.ParseForm(); err != nil {
		return form(http.StatusBadRequest, testerSignInView{Wrong: "The form could not be read."})
	}
	addr, err := mail.ValidAddress(strings.TrimSpace(r.PostForm.Get("email")))
	if err != nil {
		return form(http.StatusBadRequest, testerSignInView{Wrong: "That is not one e-mail address (name@example.com)."})
	}
	addr = strings.ToLower(addr)
	now := s.now()
	if ok, wait := s.testerLinkPerIP.Allow(clientKey(s.clientIP(r)), now); !ok {
		setRetryAfter(w, tooMany(wait, ""))
		return form(http.StatusTooManyRequests, testerSignInView{Wrong: "Too many links asked for from here: wait a minute and try again."})
	}
	// An address asked for too often gets the same answer as any other:
	// the answer must not tell whether it is on a list.
	if ok, _ := s.testerLinkPerAddr.Allow(addr, now); ok {
		send(addr)
	}
	return form(http.StatusOK, testerSignInView{Sent: true})
}

// mailTesterLink mails a sign-in link to addr if it may open page d.
func (s *Server) mailTesterLink(c *call, t testerSite, ws store.Workspace, d store.Distribution, addr string) {
	s.sendTesterLink(c, t.base, addr, t.page, "the test builds of "+orText(d.Name, d.Slug), func() bool {
		if s.store.InTesterGroups(addr, ws.ID, d.Groups) {
			return true
		}
		u, err := s.store.UserByEmail(addr)
		return err == nil && s.mayOpen(t, u.ID)
	})
}

// sendTesterLink mails addr a sign-in link back to next, if eligible says
// so, after the answer (see askTesterLink), a few at a time.
func (s *Server) sendTesterLink(c *call, base, addr, next, what string, eligible func() bool) {
	if s.mail == nil {
		return
	}
	select {
	case s.resets <- struct{}{}:
	default:
		return // a flood: its mail is bounded per address anyway
	}
	st := c.st()
	go func() {
		defer func() { <-s.resets }()
		if !eligible() {
			return
		}
		err := st.CreateTesterLink(addr, next, func(plain string) store.Mail {
			return composeMail(addr, "Sign in to "+what, mailWords{
				Greeting: "Hello,",
				Lines:    []string{"Someone (we hope you) asked to sign in to " + what + " on Hangar."},
				Action:   "Sign in", URL: base + "/t/signin/" + plain,
				After: []string{"The link works once, for 15 minutes, on the device you open it on. If you did not ask for it, ignore this mail."},
			})
		})
		if err != nil && !errors.Is(err, store.ErrMailDropped) {
			s.log.Error("tester sign-in link", "err", err)
		}
		s.wakeMail()
	}()
}

// testerLinkPage shows what a sign-in link does, with a button that does
// it: mail scanners open links, and must not spend them.
func (s *Server) testerLinkPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := s.store.TesterLinkByPlain(c.params.ByName("token")); err != nil {
		return s.renderTester(w, r, testerView{Status: http.StatusNotFound, Title: "Link expired",
			Message: "This sign-in link was used or has expired (it works once, for 15 minutes). Open the page again and ask for a new one."})
	}
	return s.renderTester(w, r, testerView{Title: "Sign in", Confirm: &testerConfirm{Action: r.URL.Path}})
}

// useTesterLink spends a sign-in link: a tester session on this device,
// and back to the page that asked for it.
func (s *Server) useTesterLink(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.checkForm(r, &call{}, false); err != nil {
		return s.renderTester(w, r, testerView{Status: http.StatusForbidden, Title: "Not sent from this page", Message: "Open the link from your mail and sign in there."})
	}
	sess, token, next, err := c.st().UseTesterLink(c.params.ByName("token"), s.cfg.Testers.SessionTTL)
	if errors.Is(err, store.ErrTokenExpired) {
		return s.testerLinkPage(w, r, c)
	}
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: testerCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: r.TLS != nil || isHTTPS(c.base), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
	return nil
}

// testerSignOut ends the device's tester session.
func (s *Server) testerSignOut(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.checkForm(r, &call{}, false); err != nil {
		return s.renderTester(w, r, testerView{Status: http.StatusForbidden, Title: "Not sent from this page", Message: "Sign out from the page."})
	}
	if sess, ok := s.testerSession(r); ok {
		if err := s.store.EndTesterSession(sess.ID); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: testerCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil || isHTTPS(c.base), SameSite: http.SameSiteLaxMode})
	return s.renderTester(w, r, testerView{Title: "Signed out", Message: "This device is no longer signed in as a tester."})
}
