package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Second factors of local accounts: an authenticator app (TOTP) with
// single-use recovery codes, and passkeys (WebAuthn credentials). The
// codes' checks are package auth's; what is kept, and used up, is here.

// Passkey is a WebAuthn credential of a user, as the webauthn library
// gives it (Credential, JSON), with what the account page shows.
type Passkey struct {
	ID         string    `json:"id"` // the credential ID, base64url
	Name       string    `json:"name"`
	Credential []byte    `json:"credential"` // webauthn.Credential as JSON
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// TicketSecondFactor is a sign-in half done: the password was right, a
// second factor is asked. Its token is in a cookie for a few minutes.
const (
	TicketSecondFactor = "second_factor"
	SecondFactorTTL    = 5 * time.Minute
)

// ErrCodeUsed is returned for a TOTP code of a step already used (a
// replay) and for an unknown recovery code.
var ErrCodeUsed = errors.New("code already used or unknown")

// updateUser applies fn to a stored user in tx and stores it.
func updateUser(tx *bolt.Tx, userID string, fn func(*User) error) (User, error) {
	users := tx.Bucket(bucketUsers)
	var u User
	if err := get(users, []byte(userID), &u); err != nil {
		return u, err
	}
	if err := fn(&u); err != nil {
		return u, err
	}
	return u, put(users, []byte(userID), u)
}

// SetTOTPPending keeps a secret being set up, until a code from it
// confirms it (EnableTOTP).
func (s *Store) SetTOTPPending(userID, secret string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := updateUser(tx, userID, func(u *User) error { u.TOTPPending = secret; return nil })
		return err
	})
}

// EnableTOTP makes the pending secret the user's (a code of step from it
// was right) with new recovery codes (their hashes).
func (s *Store) EnableTOTP(userID string, step uint64, recoveryHashes []string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		u, err := updateUser(tx, userID, func(u *User) error {
			if u.TOTPPending == "" {
				return fmt.Errorf("%w: no authenticator is being set up", ErrInvalid)
			}
			u.TOTPSecret, u.TOTPPending, u.TOTPLastStep, u.RecoveryCodes = u.TOTPPending, "", step, recoveryHashes
			return nil
		})
		if err != nil {
			return err
		}
		return s.record(tx, AuditFactorAdded, userTarget(u), "", map[string]any{"method": "totp", "recoveryCodes": len(recoveryHashes)})
	})
}

// UseTOTPStep records that a code of step was used: a step at or before
// the last one used is ErrCodeUsed (a code is good once).
func (s *Store) UseTOTPStep(userID string, step uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := updateUser(tx, userID, func(u *User) error {
			if step <= u.TOTPLastStep {
				return ErrCodeUsed
			}
			u.TOTPLastStep = step
			return nil
		})
		return err
	})
}

// UseRecoveryCode uses up a recovery code (by hash) and returns how many
// are left; ErrCodeUsed if it is not one of the user's.
func (s *Store) UseRecoveryCode(userID, hash string) (left int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		u, err := updateUser(tx, userID, func(u *User) error {
			i := slices.Index(u.RecoveryCodes, hash)
			if i < 0 {
				return ErrCodeUsed
			}
			u.RecoveryCodes = slices.Delete(u.RecoveryCodes, i, i+1)
			return nil
		})
		left = len(u.RecoveryCodes)
		return err
	})
	return left, err
}

// RenewRecoveryCodes replaces the user's recovery codes.
func (s *Store) RenewRecoveryCodes(userID string, hashes []string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		u, err := updateUser(tx, userID, func(u *User) error {
			if !u.HasSecondFactor() {
				return fmt.Errorf("%w: recovery codes go with a second factor", ErrInvalid)
			}
			u.RecoveryCodes = hashes
			return nil
		})
		if err != nil {
			return err
		}
		return s.record(tx, AuditRecoveryRenewed, userTarget(u), "", map[string]any{"count": len(hashes)})
	})
}

// RemoveTOTP removes the user's authenticator app (and the recovery codes,
// when no passkey is left).
func (s *Store) RemoveTOTP(userID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		u, err := updateUser(tx, userID, func(u *User) error {
			if u.TOTPSecret == "" {
				return ErrNotFound
			}
			u.TOTPSecret, u.TOTPPending, u.TOTPLastStep = "", "", 0
			if len(u.Passkeys) == 0 {
				u.RecoveryCodes = nil
			}
			return nil
		})
		if err != nil {
			return err
		}
		return s.record(tx, AuditFactorRemoved, userTarget(u), "", map[string]any{"method": "totp"})
	})
}

// AddPasskey adds a credential to the user.
func (s *Store) AddPasskey(userID string, pk Passkey) error {
	pk.CreatedAt = s.now().UTC()
	return s.db.Update(func(tx *bolt.Tx) error {
		u, err := updateUser(tx, userID, func(u *User) error {
			if len(u.Passkeys) >= 20 {
				return fmt.Errorf("%w: at most 20 passkeys", ErrInvalid)
			}
			u.Passkeys = append(u.Passkeys, pk)
			return nil
		})
		if err != nil {
			return err
		}
		return s.record(tx, AuditFactorAdded, userTarget(u), "", map[string]any{"method": "passkey", "name": pk.Name})
	})
}

// UsePasskey records a passkey's use: its credential as the library
// updated it (the signature counter), and when.
func (s *Store) UsePasskey(userID, id string, credential []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := updateUser(tx, userID, func(u *User) error {
			for i := range u.Passkeys {
				if u.Passkeys[i].ID == id {
					u.Passkeys[i].Credential, u.Passkeys[i].LastUsedAt = credential, s.now().UTC()
					return nil
				}
			}
			return ErrNotFound
		})
		return err
	})
}

// RemovePasskey removes one of the user's passkeys (and the recovery
// codes, when no second factor is left).
func (s *Store) RemovePasskey(userID, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var name string
		u, err := updateUser(tx, userID, func(u *User) error {
			i := slices.IndexFunc(u.Passkeys, func(p Passkey) bool { return p.ID == id })
			if i < 0 {
				return ErrNotFound
			}
			name = u.Passkeys[i].Name
			u.Passkeys = slices.Delete(u.Passkeys, i, i+1)
			if !u.HasSecondFactor() {
				u.RecoveryCodes = nil
			}
			return nil
		})
		if err != nil {
			return err
		}
		return s.record(tx, AuditFactorRemoved, userTarget(u), "", map[string]any{"method": "passkey", "name": name})
	})
}
