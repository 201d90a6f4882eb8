package urlsign_test

import (
	"errors"
	"testing"
	"time"

	"hangar/urlsign"
)

// FuzzVerify: any path and query either verifies or fails with one of the
// four errors, never panics; a URL Hangar signed verifies, and only for its
// own path.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	ring := urlsign.NewKeyring([]urlsign.Key{k1, k2})
	f.Add("/dl/AAAAAAAAAAAAAAAAAAAAAA/app.ipa", ring.Sign("GET", "/dl/AAAAAAAAAAAAAAAAAAAAAA/app.ipa", now.Add(time.Minute)))
	f.Add("/dl/x/y", "exp=1&kid=k1&sig=AAAA")
	f.Add("/dl/x/y", "exp=&kid=&sig=&exp=")
	f.Add("", "sig=%00&kid=%zz&exp=-1")
	f.Fuzz(func(t *testing.T, path, query string) {
		err := ring.Verify("GET", path, query, now)
		if err != nil && !errors.Is(err, urlsign.ErrMalformed) && !errors.Is(err, urlsign.ErrExpired) &&
			!errors.Is(err, urlsign.ErrUnknownKey) && !errors.Is(err, urlsign.ErrBadSignature) {
			t.Fatalf("unexpected error %v", err)
		}
		signed := ring.Sign("GET", path, now.Add(time.Minute))
		if err := ring.Verify("GET", path, signed, now); err != nil {
			t.Fatalf("own signature for %q: %v", path, err)
		}
		if err := ring.Verify("GET", path+"x", signed, now); err == nil {
			t.Fatalf("signature for %q accepted for %q", path, path+"x")
		}
	})
}
