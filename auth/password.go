// Package auth holds Hangar's authentication and authorization rules that do
// not depend on storage: password hashing, roles and their permissions, and
// the login rate limiter.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. They are stored with every hash, so
// raising them later does not invalidate existing passwords.
type Params struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams cost about 0.1 s and 64 MiB per hash on the 2-core machine
// Hangar is developed on (BenchmarkHashDefault), above OWASP's minimum
// (19 MiB, 2 passes).
var DefaultParams = Params{Time: 3, Memory: 64 << 10, Threads: 2}

// ErrMalformedHash is returned by Verify for a stored hash it cannot read.
var ErrMalformedHash = errors.New("auth: malformed password hash")

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies passwords with argon2id. It bounds how many
// hashes run at once: each holds Params.Memory of RAM, and a burst of logins
// must not exhaust the machine.
//
// Waiting hashes queue in two lanes, served in order, the first lane
// first: Priority for checks that look like no attack (a known user, an
// address that has not been failing; and every Hash, which an
// authenticated change asks for), Normal for the rest, which is bounded:
// beyond QueueLimit waiting, Verify answers ErrBusy at once. So a flood of
// logins, from however many addresses, delays a real sign-in by one
// running hash at most, and a flood against one account delays it by
// QueueLimit/concurrent hashes at most.
type Hasher struct {
	params      Params
	concurrent  int
	derivations atomic.Uint64

	mu      sync.Mutex
	running int
	lanes   [2][]chan struct{} // waiters, Priority then Normal
}

// Lane is a Verify's place in the hasher's queue.
type Lane int

const (
	Priority Lane = iota
	Normal
)

// Waiting returns how many hashes wait in each lane.
func (h *Hasher) Waiting() (priority, normal int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lanes[Priority]), len(h.lanes[Normal])
}

// QueueLimit is how many Normal checks may wait for a slot.
const QueueLimit = 16

// ErrBusy is returned by Verify in the Normal lane when QueueLimit checks
// wait already: the caller answers "retry shortly" without hashing.
var ErrBusy = errors.New("auth: too many password checks waiting")

// Derivations returns how many argon2id derivations have run: a check that
// every login path pays the same cost, unknown users included.
func (h *Hasher) Derivations() uint64 { return h.derivations.Load() }

// NewHasher returns a hasher that creates hashes with p and runs at most
// concurrent hashes at a time (at least 1).
func NewHasher(p Params, concurrent int) *Hasher {
	return &Hasher{params: p, concurrent: max(concurrent, 1)}
}

// Hash returns the encoded argon2id hash of password:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<key> (unpadded standard base64).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key, err := h.derive(ctx, password, salt, h.params, Priority)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Unmatchable returns an encoded hash, with this hasher's parameters, that
// no password matches (its key is random, not derived): verifying against
// it costs one derivation, as against a real hash. A login naming an
// unknown user is checked against it, so that it takes as long as a wrong
// password, and making it costs no derivation (a real dummy hash made at
// start was the idle server's peak memory).
func (h *Hasher) Unmatchable() string {
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	rand.Read(salt)
	rand.Read(key)
	return encode(h.params, salt, key)
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the encoded hash, comparing in
// constant time with the parameters stored in the hash, waiting in the
// Priority lane. It returns ErrMalformedHash for an unreadable hash, or
// ctx's error.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	return h.VerifyIn(ctx, Priority, password, encoded)
}

// VerifyIn is Verify in a lane; in the Normal lane it may return ErrBusy.
func (h *Hasher) VerifyIn(ctx context.Context, lane Lane, password, encoded string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, password, salt, p, lane)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params, lane Lane) ([]byte, error) {
	if err := h.acquire(ctx, lane); err != nil {
		return nil, err
	}
	defer h.release()
	h.derivations.Add(1)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	// Each derivation leaves Params.Memory of garbage. Collected before
	// the slot is given back, the next one can reuse it: without this a
	// flood of logins grew with the collector's lag (266 MiB for 24 hashes
	// two at a time, 412 MB for 800); with it the peak is bounded by about
	// (slots + 1) × Memory, as a freed block is sometimes split by small
	// allocations before the next derivation asks for it. Handing the
	// block back to the OS instead (debug.FreeOSMemory) held the peak at
	// slots × Memory but made every hash fault its 64 MiB in again: three
	// times slower. The collection adds a few milliseconds to a 0.1 s hash.
	runtime.GC()
	return key, nil
}

// acquire waits for a slot in lane's turn.
func (h *Hasher) acquire(ctx context.Context, lane Lane) error {
	h.mu.Lock()
	if h.running < h.concurrent {
		h.running++
		h.mu.Unlock()
		return nil
	}
	if lane == Normal && len(h.lanes[Normal]) >= QueueLimit {
		h.mu.Unlock()
		return ErrBusy
	}
	turn := make(chan struct{})
	h.lanes[lane] = append(h.lanes[lane], turn)
	h.mu.Unlock()
	select {
	case <-turn:
		return nil // release handed its slot over
	case <-ctx.Done():
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, c := range h.lanes[lane] {
			if c == turn {
				h.lanes[lane] = append(h.lanes[lane][:i], h.lanes[lane][i+1:]...)
				return ctx.Err()
			}
		}
		// The slot was handed over as ctx ended: pass it on.
		h.releaseLocked()
		return ctx.Err()
	}
}

// release hands the slot to the next waiter, Priority first.
func (h *Hasher) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked()
}

func (h *Hasher) releaseLocked() {
	for l := range h.lanes {
		if q := h.lanes[l]; len(q) > 0 {
			h.lanes[l] = q[1:]
			close(q[0]) // the slot goes to it: running stays the same
			return
		}
	}
	h.running--
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Time == 0 || p.Memory == 0 || p.Threads == 0 || p.Memory > 4<<20 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}

// NewPassword returns a random password of 128 bits, for accounts created
// without one; it is shown once.
func NewPassword() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Password length limits. The upper one bounds the work a login costs.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// ErrWeakPassword is returned by CheckPassword.
var ErrWeakPassword = fmt.Errorf("password must be %d to %d bytes long", MinPasswordLen, MaxPasswordLen)

// CheckPassword returns ErrWeakPassword for a password that is too short or
// too long.
func CheckPassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return ErrWeakPassword
	}
	return nil
}
