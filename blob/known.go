package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A client may say what it uploads (RFC 9530's Content-Digest, with the
// length): when that content is stored already, the body is only hashed,
// never written, so a duplicate costs its hashing. The digest is checked
// either way: a body that is not what it said is refused and nothing is
// recorded.

var (
	// ErrDigestMismatch means the body did not have the declared digest
	// or length.
	ErrDigestMismatch = errors.New("blob: the content does not have the declared digest")
	// ErrGone means the stored copy a declared upload matched was removed
	// while the body was being hashed (its last file deleted meanwhile):
	// the bytes were not kept, so the upload must be sent again.
	ErrGone = errors.New("blob: the stored copy was removed during the upload; send it again")
)

// knownStore is what putKnown needs of a backend.
type knownStore interface {
	Put(ctx context.Context, r io.Reader, limit int64, commit func(Info) error) (Info, error)
	// present says whether the blob is stored whole, with size bytes.
	present(ctx context.Context, ref Ref, size int64) (bool, error)
	lock(ref Ref) *sync.Mutex
}

func putKnown(ctx context.Context, s knownStore, r io.Reader, limit int64, want Ref, size int64, commit func(Info) error) (Info, error) {
	checked := func(info Info) error {
		if info.Ref != want {
			return ErrDigestMismatch
		}
		if commit != nil {
			return commit(info)
		}
		return nil
	}
	if size < 0 || limit > 0 && size > limit {
		return s.Put(ctx, r, limit, checked)
	}
	if ok, err := s.present(ctx, want, size); err != nil {
		return Info{}, err
	} else if !ok {
		return s.Put(ctx, r, limit, checked)
	}
	// Hashed without the ref's lock: a slow client must not hold up the
	// commits and removals that share its stripe. Checked again under it.
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, size+1))
	if err != nil {
		return Info{}, fmt.Errorf("%w: %w", ErrRead, err)
	}
	if n != size || Ref(h.Sum(nil)) != want {
		return Info{}, ErrDigestMismatch
	}
	info, err := reuse(ctx, s, want, size, commit)
	if errors.Is(err, ErrNotFound) {
		return Info{}, ErrGone
	}
	return info, err
}

// reuse calls commit for a blob stored whole with size bytes, under its
// lock, so that no removal can take it between the check and the commit's
// new reference. ErrNotFound (nothing called) if it is not stored so.
func reuse(ctx context.Context, s knownStore, ref Ref, size int64, commit func(Info) error) (Info, error) {
	mu := s.lock(ref)
	mu.Lock()
	defer mu.Unlock()
	if ok, err := s.present(ctx, ref, size); err != nil {
		return Info{}, err
	} else if !ok {
		return Info{}, ErrNotFound
	}
	info := Info{Ref: ref, Size: size}
	if commit != nil {
		if err := commit(info); err != nil {
			return Info{}, err
		}
	}
	return info, nil
}

// Reuse records a new use of a stored blob without its bytes: commit is
// called with it if it is stored whole with size bytes, else ErrNotFound.
// Whether the caller may have those bytes is the caller's to decide.
func (s *Store) Reuse(ref Ref, size int64, commit func(Info) error) (Info, error) {
	return reuse(context.Background(), dirKnown{s}, ref, size, commit)
}

func (d Dir) Reuse(_ context.Context, ref Ref, size int64, commit func(Info) error) (Info, error) {
	return d.Store.Reuse(ref, size, commit)
}

// Reuse is Store.Reuse on the bucket.
func (s *S3Store) Reuse(ctx context.Context, ref Ref, size int64, commit func(Info) error) (Info, error) {
	return reuse(ctx, s, ref, size, commit)
}

// PutKnown is Put for a body that says it has digest want and size bytes
// (-1: unknown): when that blob is stored intact the body is hashed and
// not written; otherwise it is stored as Put does. A body of another
// digest or length gives ErrDigestMismatch, and nothing is kept.
func (s *Store) PutKnown(r io.Reader, limit int64, want Ref, size int64, commit func(Info) error) (Info, error) {
	return putKnown(context.Background(), dirKnown{s}, r, limit, want, size, commit)
}

type dirKnown struct{ *Store }

func (d dirKnown) Put(_ context.Context, r io.Reader, limit int64, commit func(Info) error) (Info, error) {
	return d.Store.Put(r, limit, commit)
}

func (d dirKnown) present(_ context.Context, ref Ref, size int64) (bool, error) {
	return d.Store.storedIntact(ref, size)
}

func (d Dir) PutKnown(_ context.Context, r io.Reader, limit int64, want Ref, size int64, commit func(Info) error) (Info, error) {
	return d.Store.PutKnown(r, limit, want, size, commit)
}

// PutKnown is Store.PutKnown on the bucket: a stored object of that size
// at the content address is taken as those bytes, as Put does.
func (s *S3Store) PutKnown(ctx context.Context, r io.Reader, limit int64, want Ref, size int64, commit func(Info) error) (Info, error) {
	return putKnown(ctx, s, r, limit, want, size, commit)
}

func (s *S3Store) present(ctx context.Context, ref Ref, size int64) (bool, error) {
	got, err := s.Stat(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil && got == size, err
}
