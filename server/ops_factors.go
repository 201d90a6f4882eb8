package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"net/netip"
	"strings"

	"hangar/auth"
	"hangar/store"
)

// Second factors as the API and the console share them: setting up an
// authenticator app (TOTP) with recovery codes, and checking a code at
// sign-in, under limits like a password's. They know no HTTP.

var (
	errSecondFactor = &apiError{401, "SECOND_FACTOR_REQUIRED", orgNoAuth, "this account signs in with a second factor: send the authenticator's code (or a recovery code) as \"code\""}
	errPasskeyOnly  = &apiError{401, "SECOND_FACTOR_REQUIRED", orgNoAuth, "this account's second factor is a passkey: sign in with it in the console"}
	errBadCode      = &apiError{401, "INVALID_CODE", orgNoAuth, "the code is wrong, or was already used"}
	errMustEnrol    = &apiError{403, "SECOND_FACTOR_SETUP_REQUIRED", orgForbidden, "this instance requires a second factor: set one up on your account page first"}
)

// mustEnrol says whether the instance requires u to have a second factor
// that u does not have yet.
func (s *Server) mustEnrol(u store.User) bool {
	// An OpenID provider's people sign in with its factors, never with
	// Hangar's: asking them to set one up here would only lock them out.
	if u.HasSecondFactor() || strings.HasPrefix(u.Source, "oidc:") {
		return false
	}
	switch s.cfg.RequireSecondFactor {
	case "everyone":
		return true
	case "admins":
		return u.Admin
	}
	return false
}

// totpSetup is an authenticator being set up: its secret, as text and as
// the QR code apps scan.
type totpSetup struct {
	Secret string
	URL    string
	// QR is a data: URL of a PNG, which html/template would otherwise
	// refuse in an img src; it is made here, from bytes, never from input.
	QR template.URL
}

// beginTOTP makes a new secret for the caller, kept pending until a code
// from it confirms it. Calling it again replaces the pending secret.
func (s *Server) beginTOTP(c *call) (totpSetup, error) {
	u, err := s.store.User(c.who.id)
	if err != nil {
		return totpSetup{}, err
	}
	secret := u.TOTPPending
	if secret == "" {
		secret = auth.NewTOTPSecret()
		if err := c.st().SetTOTPPending(u.ID, secret); err != nil {
			return totpSetup{}, err
		}
	}
	return s.totpSetupOf(u, secret)
}

func (s *Server) totpSetupOf(u store.User, secret string) (totpSetup, error) {
	account := u.Username
	if u.Email != "" {
		account = u.Email
	}
	url := auth.TOTPURL("Hangar", account, secret)
	var png bytes.Buffer
	if err := qrPNG(&png, url, 400); err != nil { // shown at 200 CSS pixels: sharp on dense screens
		return totpSetup{}, err
	}
	// Groups of four are easier to type into an app by hand.
	var groups []string
	for i := 0; i < len(secret); i += 4 {
		groups = append(groups, secret[i:min(i+4, len(secret))])
	}
	return totpSetup{Secret: strings.Join(groups, " "), URL: url, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png.Bytes()))}, nil
}

// confirmTOTP checks a code of the pending secret and, if right, makes it
// the caller's; it returns the new recovery codes, shown once.
func (s *Server) confirmTOTP(c *call, code string) ([]string, error) {
	u, err := s.store.User(c.who.id)
	if err != nil {
		return nil, err
	}
	if u.TOTPPending == "" {
		return nil, errBadRequest("no authenticator is being set up")
	}
	step, ok := auth.CheckTOTP(u.TOTPPending, code, s.now())
	if !ok {
		return nil, errBadRequest("that code is not the app's: check the phone's time, and type the 6 digits it shows now")
	}
	codes, hashes := auth.NewRecoveryCodes(10)
	if u.HasSecondFactor() && len(u.RecoveryCodes) > 0 {
		codes, hashes = nil, u.RecoveryCodes // a passkey's codes stay
	}
	if err := c.st().EnableTOTP(u.ID, step, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// renewRecoveryCodes replaces the caller's recovery codes; the new ones
// are shown once.
func (s *Server) renewRecoveryCodes(c *call) ([]string, error) {
	codes, hashes := auth.NewRecoveryCodes(10)
	if err := c.st().RenewRecoveryCodes(c.who.id, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// secondFactor checks a code at sign-in (the password was right): the
// authenticator's, good once, or a recovery code, used up. Failures count
// against the same kind of limits as passwords, and are recorded. It
// returns how the user signed in.
func (s *Server) secondFactor(c *call, client netip.Addr, u store.User, code string) (string, error) {
	t, err := s.attempt(client, limits{&s.codePerIP, &s.codePerUser, &s.codePerName, "too many codes tried; retry later"}, u.ID)
	if err != nil {
		return "", err
	}
	code = strings.TrimSpace(code)
	if u.TOTPSecret != "" {
		if step, ok := auth.CheckTOTP(u.TOTPSecret, code, s.now()); ok {
			if err := c.st().UseTOTPStep(u.ID, step); err == nil {
				t.refund()
				return firstFactor(u) + "+totp", nil
			} else if !errors.Is(err, store.ErrCodeUsed) {
				return "", err
			}
		}
	}
	if len(code) >= 10 {
		left, err := c.st().UseRecoveryCode(u.ID, auth.RecoveryHash(code))
		if err == nil {
			t.refund()
			if left < 3 {
				s.log.Warn("a user is running out of recovery codes", "user", u.ID, "left", left)
			}
			return firstFactor(u) + "+recovery_code", nil
		}
		if !errors.Is(err, store.ErrCodeUsed) {
			return "", err
		}
	}
	a := c.st().Actor()
	a.Kind, a.ID, a.Name = store.ActorAnonymous, "", ""
	if err := c.st().As(a).Record(store.AuditSigninFailed, store.AuditTarget{Kind: "user", ID: u.ID, Name: u.Username}, "", map[string]any{"method": "second_factor"}); err != nil {
		s.log.Error("audit log", "err", err)
	}
	return "", errBadCode
}
