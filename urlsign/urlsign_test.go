package urlsign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"hangar/urlsign"
)

var (
	k1 = urlsign.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	k2 = urlsign.Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ring := urlsign.NewKeyring([]urlsign.Key{k1})
	path := "/dl/AAAAAAAAAAAAAAAAAAAAAA/app 1.ipa"
	q := ring.Sign("GET", path, now.Add(time.Minute))
	sig := q[strings.Index(q, "sig=")+4:]
	flip := func(s string) string { // change one character of the signature
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}

	tests := []struct {
		name         string
		method, path string
		query        string
		now          time.Time
		want         error
	}{
		{"valid", "GET", path, q, now, nil},
		{"HEAD is checked as GET", "HEAD", path, q, now, nil},
		{"extra parameters are ignored", "GET", path, "x=1&" + q + "&utm=2", now, nil},
		{"one second before expiry", "GET", path, q, now.Add(59 * time.Second), nil},
		{"at expiry", "GET", path, q, now.Add(time.Minute), urlsign.ErrExpired},
		{"expired", "GET", path, q, now.Add(time.Hour), urlsign.ErrExpired},
		{"other method", "DELETE", path, q, now, urlsign.ErrBadSignature},
		{"other path", "GET", "/dl/AAAAAAAAAAAAAAAAAAAAAB/app 1.ipa", q, now, urlsign.ErrBadSignature},
		{"other file name", "GET", "/dl/AAAAAAAAAAAAAAAAAAAAAA/app 2.ipa", q, now, urlsign.ErrBadSignature},
		{"tampered signature", "GET", path, strings.Replace(q, sig, flip(sig), 1), now, urlsign.ErrBadSignature},
		{"extended expiry", "GET", path, strings.Replace(q, "exp=1800000060", "exp=1900000060", 1), now, urlsign.ErrBadSignature},
		{"unknown key", "GET", path, strings.Replace(q, "kid=k1", "kid=k9", 1), now, urlsign.ErrUnknownKey},
		{"no query", "GET", path, "", now, urlsign.ErrMalformed},
		{"missing sig", "GET", path, "exp=1800000060&kid=k1", now, urlsign.ErrMalformed},
		{"repeated sig", "GET", path, q + "&sig=" + sig, now, urlsign.ErrMalformed},
		{"non-numeric exp", "GET", path, strings.Replace(q, "exp=1800000060", "exp=soon", 1), now, urlsign.ErrMalformed},
		{"short sig", "GET", path, strings.Replace(q, sig, sig[:10], 1), now, urlsign.ErrMalformed},
		{"long sig", "GET", path, strings.Replace(q, sig, sig+"A", 1), now, urlsign.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ring.Verify(tt.method, tt.path, tt.query, tt.now); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	old := urlsign.NewKeyring([]urlsign.Key{k1})
	q := old.Sign("GET", "/dl/x/y", now.Add(time.Minute))

	rotated := urlsign.NewKeyring([]urlsign.Key{k2, k1})
	if err := rotated.Verify("GET", "/dl/x/y", q, now); err != nil {
		t.Fatalf("URL signed before rotation: got %v, want nil", err)
	}
	q2 := rotated.Sign("GET", "/dl/x/y", now.Add(time.Minute))
	if !strings.Contains(q2, "kid=k2") {
		t.Fatalf("new URLs should use the newest key: %s", q2)
	}
	retired := urlsign.NewKeyring([]urlsign.Key{k2})
	if err := retired.Verify("GET", "/dl/x/y", q, now); !errors.Is(err, urlsign.ErrUnknownKey) {
		t.Fatalf("retired key: got %v, want ErrUnknownKey", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	ring := urlsign.NewKeyring([]urlsign.Key{k1, k2})
	path := "/dl/AAAAAAAAAAAAAAAAAAAAAA/app.ipa"
	q := ring.Sign("GET", path, now.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if err := ring.Verify("GET", path, q, now); err != nil {
			b.Fatal(err)
		}
	}
}
