package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"hangar/auth"
)

// Password-protected tester pages: a public link created with a password,
// a distribution in password mode. A browser unlocks one with a form; the
// answer is a signed cookie for that page alone, valid for unlockTTL and
// only while the password stays the same. An API client (curl, a script)
// sends the password as HTTP Basic auth with any user name. The password
// never travels in a URL, and is never logged: the form body and the
// Authorization header are not.

// unlockTTL is how long a right password is remembered in a browser, and
// how long the signed manifest an unlocked iPhone is given stays valid.
const unlockTTL = 12 * time.Hour

var (
	errPasswordNeeded = &apiError{http.StatusUnauthorized, "PASSWORD_REQUIRED", orgNoAuth, "this link is protected by a password: send it as HTTP Basic auth (any user name)"}
	errWrongPassword  = &apiError{http.StatusUnauthorized, "WRONG_PASSWORD", orgNoAuth, "wrong password"}
)

// Wrong passwords for tester pages are limited as logins are: per client
// network, per page and network, and per page across networks (see
// attempt). Right ones give their attempts back.
var (
	unlockPerIP     = auth.Limiter{Burst: 10, Every: 6 * time.Second}
	unlockPerTarget = auth.Limiter{Burst: 5, Every: 12 * time.Second}
	unlockPerPage   = auth.Limiter{Burst: 10, Every: 12 * time.Second} // testers share a page's password
)

// limits are the three buckets a password guess is charged to: its
// client's network (perIP), the target (a username, a page) from that
// network (perKey), and the target from everywhere (perTarget).
type limits struct {
	perIP, perKey, perTarget *auth.Limiter
	limited                  string // the refusal's message
}

// ticket is an attempt let through: refund gives its charges back (the
// password was right), lane is where its hash waits.
type ticket struct {
	refund func()
	lane   auth.Lane
}

// attempt charges a guess at target from r's client before a password is
// hashed (so parallel requests cannot all slip through), or refuses it
// with a 429 and Retry-After.
//
// The target's own ceiling (perTarget) holds however many addresses guess:
// once it is spent, only a network that has not been failing at this
// target gets a guess (its first failure makes it one that has), so that
// nobody can lock a user or a page out from elsewhere: the right password
// from a clean network goes through. Networks are addresses for IPv4 and
// /64s for IPv6 (one host has a whole /64). An attempt from a clean
// network at a calm target waits in the hasher's Priority lane; the rest
// in the Normal one, which is bounded (auth.ErrBusy: a 429 too).
func (s *Server) attempt(client netip.Addr, l limits, target string) (ticket, error) {
	now := s.now()
	ip := clientKey(client)
	k := target + "\x00" + ip
	freshHere := l.perKey.Full(k, now) // this network has not been failing at target
	clean := freshHere && l.perIP.Full(ip, now)
	ok, wait := l.perIP.Allow(ip, now)
	if ok {
		if ok, wait = l.perKey.Allow(k, now); !ok {
			l.perIP.Refund(ip)
		}
	}
	calm := false
	if ok {
		var twait time.Duration
		if calm, twait = l.perTarget.Allow(target, now); !calm && !freshHere {
			l.perIP.Refund(ip)
			l.perKey.Refund(k)
			ok, wait = false, twait
		}
	}
	if !ok {
		return ticket{}, tooMany(wait, l.limited)
	}
	t := ticket{lane: auth.Normal, refund: func() {
		l.perIP.Refund(ip)
		l.perKey.Refund(k)
		if calm {
			l.perTarget.Refund(target)
		}
	}}
	if clean && calm {
		t.lane = auth.Priority
	}
	return t, nil
}

// tooMany is a 429 whose answer says when to retry (Retry-After, set by
// whoever writes the answer: setRetryAfter).
func tooMany(wait time.Duration, msg string) error {
	return &retryLater{err: &apiError{http.StatusTooManyRequests, "RATE_LIMITED", orgRateLimited, msg},
		seconds: max(1, int(math.Ceil(wait.Seconds())))}
}

// retryLater is a refusal that says when to retry.
type retryLater struct {
	err     error
	seconds int
}

func (e *retryLater) Error() string { return e.err.Error() }
func (e *retryLater) Unwrap() error { return e.err }

// setRetryAfter sets Retry-After when err says when to retry.
func setRetryAfter(w http.ResponseWriter, err error) {
	var rl *retryLater
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(rl.seconds))
	}
}

// clientKey is what limits count a client by: its IPv4 address, or its
// IPv6 /64 (a single host is routinely given a whole /64, so counting
// addresses there would give it 2^64 buckets).
func clientKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Page passwords are shared with testers, typed on phones: long enough
// that the rate limit makes guessing hopeless, short enough to type.
const (
	minPagePassword = 6
	maxPagePassword = 128
)

// pagePasswordHash hashes a new password of a link or distribution.
func (s *Server) pagePasswordHash(ctx context.Context, pw string) (string, error) {
	if n := utf8.RuneCountInString(pw); n < minPagePassword || len(pw) > maxPagePassword {
		return "", errBadRequest(fmt.Sprintf("password must be %d to %d characters", minPagePassword, maxPagePassword))
	}
	return s.hasher.Hash(ctx, pw)
}

// checkPagePassword checks a password for the protected page id, rate
// limited.
func (s *Server) checkPagePassword(ctx context.Context, client netip.Addr, id, password, hash string) error {
	t, err := s.attempt(client, limits{&s.unlockPerIP, &s.unlockPerTarget, &s.unlockPerPage, "too many wrong passwords; retry later"}, id)
	if err != nil {
		return err
	}
	match, err := s.hasher.VerifyIn(ctx, t.lane, password, hash)
	if errors.Is(err, auth.ErrBusy) {
		t.refund()
		return tooMany(time.Second, "too many password checks at once; retry in a moment")
	}
	if err != nil && !errors.Is(err, ctx.Err()) {
		s.log.Error("password check failed", "page", id, "err", err)
	}
	if err != nil || !match {
		return errWrongPassword
	}
	t.refund()
	return nil
}

// unlockCookie names the cookie that unlocks page id.
func unlockCookie(id string) string { return "hangar_unlock_" + id }

// unlockMAC binds an unlock to the page, its expiry and its password (as
// stored: a new password locks the page again).
func (s *Server) unlockMAC(id, hash string, exp int64) string {
	mac := hmac.New(sha256.New, s.unlockKey)
	mac.Write([]byte(id + "\n" + hash + "\n" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// setUnlocked gives the browser the cookie that unlocks page id.
func (s *Server) setUnlocked(w http.ResponseWriter, r *http.Request, id, hash string) {
	exp := s.now().Add(unlockTTL)
	http.SetCookie(w, &http.Cookie{Name: unlockCookie(id), Value: strconv.FormatInt(exp.Unix(), 10) + "." + s.unlockMAC(id, hash, exp.Unix()),
		Path: "/", Expires: exp, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// unlocked reports whether the request carries a valid unlock of page id
// under its current password hash.
func (s *Server) unlocked(r *http.Request, id, hash string) bool {
	c, err := r.Cookie(unlockCookie(id))
	if err != nil {
		return false
	}
	expText, mac, ok := strings.Cut(c.Value, ".")
	exp, err := strconv.ParseInt(expText, 10, 64)
	// Only the canonical form: no sign, no leading zeros.
	if !ok || err != nil || strconv.FormatInt(exp, 10) != expText || s.now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.unlockMAC(id, hash, exp)))
}

// passOf is what a protected download accepts instead of the page's form:
// the unlock cookie, HTTP Basic auth with the password, or a URL signed
// for its path (what an unlocked page hands to an iPhone's installer,
// which sends no cookie). It returns nil when the request may go on.
func (s *Server) passOf(r *http.Request, t testerSite) error {
	if s.unlocked(r, t.id, t.hash) || s.verifySigned(r, &t) {
		return nil
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return s.checkPagePassword(r.Context(), s.clientIP(r), t.id, pw, t.hash)
	}
	return errPasswordNeeded
}

// wantsHTML tells a browser's navigation from an API client's request.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
