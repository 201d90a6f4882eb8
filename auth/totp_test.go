package auth_test

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"hangar/auth"
)

// RFC 6238, appendix B: the SHA-1 test vectors (8 digits).
func TestTOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		if got := auth.HOTP(key, auth.TOTPStep(time.Unix(v.unix, 0)), 8); got != v.code {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.code)
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	secret := auth.NewTOTPSecret()
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	now := time.Unix(1_800_000_015, 0)
	code := func(at time.Time) string { return auth.HOTP(key, auth.TOTPStep(at), 6) }
	if step, ok := auth.CheckTOTP(secret, code(now), now); !ok || step != auth.TOTPStep(now) {
		t.Fatalf("the current code: %d %v", step, ok)
	}
	if _, ok := auth.CheckTOTP(secret, code(now.Add(-30*time.Second)), now); !ok {
		t.Error("the step before refused (a phone's clock behind)")
	}
	for _, bad := range []string{code(now.Add(-90 * time.Second)), code(now.Add(90 * time.Second)), "", "12345", "1234567", "abcdef"} {
		if _, ok := auth.CheckTOTP(secret, bad, now); ok && bad != code(now) {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := auth.CheckTOTP(secret, code(now)[:3]+" "+code(now)[3:], now); !ok {
		t.Error("a code typed with a space refused")
	}
	if u := auth.TOTPURL("Hangar", "ann@example.org", secret); !strings.HasPrefix(u, "otpauth://totp/Hangar:ann@example.org?") || !strings.Contains(u, "secret="+secret) {
		t.Errorf("url %s", u)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes := auth.NewRecoveryCodes(10)
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Errorf("code %q", c)
		}
		seen[c] = true
		if auth.RecoveryHash(strings.ToUpper(strings.ReplaceAll(c, "-", " "))) != hashes[i] {
			t.Errorf("%q typed another way hashes differently", c)
		}
	}
}
