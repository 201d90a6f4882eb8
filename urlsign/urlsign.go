// Package urlsign makes and checks Hangar's expiring download URLs.
//
// A signed URL carries three query parameters: exp (Unix seconds), kid (the
// signing key's ID) and sig, the unpadded base64url HMAC-SHA256 under that key
// of
//
//	METHOD "\n" PATH "\n" EXP
//
// where PATH is the URL's decoded path. The newlines keep the fields apart (a
// path ending in digits cannot borrow from exp). HEAD is checked as GET, so a
// URL signed for download also answers `curl -I`.
//
// Everything here is a pure function of its inputs: keys and the current time
// are passed in.
package urlsign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrMalformed: exp, kid or sig is missing or unreadable.
	ErrMalformed = errors.New("urlsign: malformed signature parameters")
	// ErrExpired: the URL's expiry has passed.
	ErrExpired = errors.New("urlsign: URL expired")
	// ErrUnknownKey: kid names no key in the keyring (never issued, or retired).
	ErrUnknownKey = errors.New("urlsign: unknown signing key")
	// ErrBadSignature: the signature does not match method, path and expiry.
	ErrBadSignature = errors.New("urlsign: bad signature")
)

// Key is one HMAC key. Secret should be 32 random bytes.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring holds the keys that verify URLs; the first one signs new URLs.
// Older keys stay so that URLs signed before a rotation keep working until
// they expire. A Keyring is immutable and safe for concurrent use.
type Keyring struct {
	current Key
	byID    map[string][]byte
}

// NewKeyring returns a keyring that signs with keys[0] and verifies with any
// of keys. It panics if keys is empty, a programming error.
func NewKeyring(keys []Key) *Keyring {
	if len(keys) == 0 {
		panic("urlsign: no keys")
	}
	k := &Keyring{current: keys[0], byID: make(map[string][]byte, len(keys))}
	for _, key := range keys {
		k.byID[key.ID] = key.Secret
	}
	return k
}

// Sign returns the query string ("exp=…&kid=…&sig=…") that makes path valid
// for method until exp.
func (k *Keyring) Sign(method, path string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	sig := mac(k.current.Secret, method, path, e)
	var b strings.Builder
	b.Grow(len("exp=&kid=&sig=") + len(e) + len(k.current.ID) + base64.RawURLEncoding.EncodedLen(len(sig)))
	b.WriteString("exp=")
	b.WriteString(e)
	b.WriteString("&kid=")
	b.WriteString(k.current.ID)
	b.WriteString("&sig=")
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return b.String()
}

// Verify checks that rawQuery carries a valid, unexpired signature of method
// and path at time now. It returns nil or one of ErrMalformed, ErrExpired,
// ErrUnknownKey, ErrBadSignature. The signature is compared in constant time.
func (k *Keyring) Verify(method, path, rawQuery string, now time.Time) error {
	e, kid, sig, ok := params(rawQuery)
	if !ok {
		return ErrMalformed
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return ErrMalformed
	}
	// Check the length before decoding: Decode writes DecodedLen(len(sig))
	// bytes, and a longer sig would overrun the buffer (found by FuzzVerify).
	if len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return ErrMalformed
	}
	got := make([]byte, sha256.Size)
	if n, err := base64.RawURLEncoding.Decode(got, []byte(sig)); err != nil || n != sha256.Size {
		return ErrMalformed
	}
	secret, ok := k.byID[kid]
	if !ok {
		return ErrUnknownKey
	}
	// Check the MAC before the expiry, so that a forged exp is reported as a
	// bad signature rather than telling the forger anything about time.
	if !hmac.Equal(got, mac(secret, method, path, e)) {
		return ErrBadSignature
	}
	if now.Unix() >= exp {
		return ErrExpired
	}
	return nil
}

func mac(secret []byte, method, path, exp string) []byte {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(method))
	h.Write([]byte{'\n'})
	h.Write([]byte(path))
	h.Write([]byte{'\n'})
	h.Write([]byte(exp))
	return h.Sum(nil)
}

// params extracts exp, kid and sig from a raw query without allocating a map.
// Each must appear exactly once: a repeated parameter could make a proxy and
// Hangar disagree about which one counts.
func params(rawQuery string) (exp, kid, sig string, ok bool) {
	var seen [3]bool
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		name, value, _ := strings.Cut(part, "=")
		var i int
		switch name {
		case "exp":
			i, exp = 0, value
		case "kid":
			i, kid = 1, value
		case "sig":
			i, sig = 2, value
		default:
			continue
		}
		if seen[i] {
			return "", "", "", false
		}
		seen[i] = true
	}
	return exp, kid, sig, seen[0] && seen[1] && seen[2]
}
