package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzUnlockCookie: any cookie value is refused or accepted without a
// panic, and only the value setUnlocked gave for this page and password
// is accepted.
func FuzzUnlockCookie(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	s := &Server{unlockKey: []byte("0123456789abcdef0123456789abcdef"), now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	s.setUnlocked(rec, httptest.NewRequest("GET", "/p/x", nil), "page", "$argon2id$hash")
	good := rec.Result().Cookies()[0].Value
	f.Add(good)
	f.Add("1800043200.")
	f.Add("-1.AAAA")
	f.Add("+" + good)
	f.Add("0" + good)
	f.Add("99999999999999999999.x")
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/p/x", nil)
		r.AddCookie(&http.Cookie{Name: unlockCookie("page"), Value: v})
		// net/http drops bytes a cookie may not hold: what is sent is
		// what counts.
		sent := ""
		if c, err := r.Cookie(unlockCookie("page")); err == nil {
			sent = c.Value
		}
		if got := s.unlocked(r, "page", "$argon2id$hash"); got != (sent == good) {
			t.Fatalf("cookie %q (sent %q): accepted %v", v, sent, got)
		}
		if s.unlocked(r, "page", "$argon2id$other") {
			t.Fatalf("cookie %q accepted under another password", v)
		}
	})
}
