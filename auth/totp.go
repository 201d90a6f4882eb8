package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP (RFC 6238) as every authenticator app does it: HMAC-SHA1, six
// digits, 30-second steps. It is the few lines of HOTP (RFC 4226) over a
// time step, written here rather than imported: the apps support nothing
// else worth configuring.

// TOTPPeriod is the length of one step.
const TOTPPeriod = 30 * time.Second

// totpSkew is how many steps before and after the current one a code is
// accepted from: phones' clocks drift.
const totpSkew = 1

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a new secret: 160 random bits (RFC 4226's
// recommended length for SHA-1), in base32 as apps take it.
func NewTOTPSecret() string {
	b := make([]byte, 20)
	rand.Read(b)
	return b32.EncodeToString(b)
}

// TOTPURL is the otpauth:// URL an app scans to add the secret.
func TOTPURL(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// HOTP is RFC 4226's code of counter under key, with digits digits.
func HOTP(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// TOTPStep is the step of time t.
func TOTPStep(t time.Time) uint64 { return uint64(t.Unix()) / uint64(TOTPPeriod/time.Second) }

// CheckTOTP reports whether code is the secret's code at now or a step
// beside it, and at which step (to refuse a code used before: the caller
// keeps the last step used). Codes are compared in constant time.
func CheckTOTP(secret, code string, now time.Time) (step uint64, ok bool) {
	key, err := b32.DecodeString(strings.ToUpper(secret))
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if err != nil || len(code) != 6 {
		return 0, false
	}
	cur := TOTPStep(now)
	for d := -totpSkew; d <= totpSkew; d++ {
		s := cur + uint64(d)
		if subtle.ConstantTimeCompare([]byte(HOTP(key, s, 6)), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// NewRecoveryCodes returns n single-use recovery codes (10 characters of
// base32 in two groups, 50 bits each) and their hashes, which are what is
// kept.
func NewRecoveryCodes(n int) (codes, hashes []string) {
	for range n {
		b := make([]byte, 7)
		rand.Read(b)
		c := strings.ToLower(b32.EncodeToString(b))[:10]
		c = c[:5] + "-" + c[5:]
		codes, hashes = append(codes, c), append(hashes, RecoveryHash(c))
	}
	return codes, hashes
}

// RecoveryHash is the kept form of a recovery code, whatever its case and
// separators as typed. The codes are random: a plain hash suffices.
func RecoveryHash(code string) string {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	h := sha256.Sum256([]byte("hangar recovery code\x00" + c))
	return hex.EncodeToString(h[:])
}
