package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// A CI job that is run again sends the same package again, without saying
// so. Its content is known only once the last byte is hashed, so Put
// writes it all to a temporary file first: a duplicate costs as much as the
// first upload, and on a disk that stalls writes after a large fsync more.
// When the caller can guess which stored blob the body is a copy of (the
// same name, in the newest builds of the same project), PutLike compares
// the body with it as it arrives instead: while they match nothing is
// written or hashed, and a body equal to the stored blob is that blob. At
// the first difference the matching part is read again from the stored
// blob and the body goes on through Put, so a wrong guess costs a compare
// of the bytes before the difference.

// likeStore is what putLike needs of a backend: the local directory's
// (the bucket does not compare, see S3Store.PutLike).
type likeStore interface {
	knownStore
	openBlob(ctx context.Context, ref Ref) (io.ReadSeekCloser, int64, error)
}

func putLike(ctx context.Context, s likeStore, r io.Reader, limit int64, like Ref, commit func(Info) error) (Info, error) {
	src, size, err := s.openBlob(ctx, like)
	if errors.Is(err, ErrNotFound) {
		return s.Put(ctx, r, limit, commit)
	}
	if err != nil {
		return Info{}, err
	}
	defer src.Close()
	body, stored := chunkPool.Get().(*chunk), chunkPool.Get().(*chunk)
	defer chunkPool.Put(body)
	defer chunkPool.Put(stored)

	var matched int64
	for {
		n, rerr := fill(r, body.buf)
		if n > 0 {
			m, serr := io.ReadFull(src, stored.buf[:n])
			if serr != nil && !errors.Is(serr, io.EOF) && !errors.Is(serr, io.ErrUnexpectedEOF) {
				return Info{}, fmt.Errorf("blob: read %s: %w", like, serr)
			}
			if m < n || !bytes.Equal(body.buf[:n], stored.buf[:n]) {
				return putAfter(ctx, s, src, matched, io.MultiReader(bytes.NewReader(body.buf[:n]), r), limit, commit)
			}
			matched += int64(n)
			if limit > 0 && matched > limit {
				return Info{}, ErrTooLarge
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Info{}, fmt.Errorf("%w: %w", ErrRead, rerr)
		}
	}
	if matched != size { // a prefix of the stored blob
		return putAfter(ctx, s, src, matched, eof{}, limit, commit)
	}
	info, err := reuse(ctx, s, like, size, commit)
	if errors.Is(err, ErrNotFound) {
		// Removed since it was opened (its last file deleted): the bytes
		// are still those of the open copy.
		return putAfter(ctx, s, src, size, eof{}, limit, commit)
	}
	return info, err
}

// putAfter stores a body whose first n bytes are those of src, and the
// rest rest.
func putAfter(ctx context.Context, s likeStore, src io.ReadSeeker, n int64, rest io.Reader, limit int64, commit func(Info) error) (Info, error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("blob: reread: %w", err)
	}
	return s.Put(ctx, io.MultiReader(io.LimitReader(src, n), rest), limit, commit)
}

type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

// PutLike is Put for a body that is probably a copy of the stored blob
// like (see above): the result is Put's, for any body.
func (s *Store) PutLike(r io.Reader, limit int64, like Ref, commit func(Info) error) (Info, error) {
	return putLike(context.Background(), dirKnown{s}, r, limit, like, commit)
}

func (d dirKnown) openBlob(_ context.Context, ref Ref) (io.ReadSeekCloser, int64, error) {
	f, err := d.Store.Open(ref)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, diskErr("stat blob", err)
	}
	return f, fi.Size(), nil
}

func (d Dir) PutLike(_ context.Context, r io.Reader, limit int64, like Ref, commit func(Info) error) (Info, error) {
	return d.Store.PutLike(r, limit, like, commit)
}

// PutLike is Put on the bucket: comparing would download the stored
// object, and a store's reads are what it charges for (egress), its
// writes mostly not. A copy there costs an upload, as before.
func (s *S3Store) PutLike(ctx context.Context, r io.Reader, limit int64, _ Ref, commit func(Info) error) (Info, error) {
	return s.Put(ctx, r, limit, commit)
}
