package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Ref is a blob's address: the SHA-256 of its content. It is comparable and
// usable as a map key; the zero Ref addresses nothing.
type Ref [sha256.Size]byte

// ErrBadRef is returned by ParseRef for anything but 64 lowercase hex digits.
var ErrBadRef = errors.New("blob: malformed ref")

// ParseRef parses the lowercase hex form that String returns. Uppercase is
// refused so that one blob has exactly one spelling (and one path on disk).
func ParseRef(s string) (Ref, error) {
	var r Ref
	if len(s) != 2*len(r) {
		return Ref{}, fmt.Errorf("%w: %q", ErrBadRef, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return Ref{}, fmt.Errorf("%w: %q", ErrBadRef, s)
		}
	}
	if _, err := hex.Decode(r[:], []byte(s)); err != nil {
		return Ref{}, fmt.Errorf("%w: %q", ErrBadRef, s)
	}
	return r, nil
}

// String returns the 64 lowercase hex digits of the ref.
func (r Ref) String() string { return hex.EncodeToString(r[:]) }

// IsZero reports whether r is the zero Ref.
func (r Ref) IsZero() bool { return r == Ref{} }
