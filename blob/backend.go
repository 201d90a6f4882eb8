package blob

import (
	"context"
	"io"
)

// Backend is where blobs live: the local directory (Dir) or an S3
// bucket (S3Store). Both keep the same contract: content addressing, a
// commit under the ref's lock, removal only when the caller's check says
// nothing refers to the blob.
type Backend interface {
	Put(ctx context.Context, r io.Reader, limit int64, commit func(Info) error) (Info, error)
	// PutKnown is Put for a body whose digest and size the client
	// declared: a duplicate is hashed, not written (see known.go).
	PutKnown(ctx context.Context, r io.Reader, limit int64, want Ref, size int64, commit func(Info) error) (Info, error)
	// PutLike is Put for a body that is probably a copy of a stored blob
	// (see like.go).
	PutLike(ctx context.Context, r io.Reader, limit int64, like Ref, commit func(Info) error) (Info, error)
	// Reuse commits a new use of a stored blob without its bytes, under
	// its lock (see known.go).
	Reuse(ctx context.Context, ref Ref, size int64, commit func(Info) error) (Info, error)
	Stat(ctx context.Context, ref Ref) (int64, error)
	RemoveUnused(ctx context.Context, ref Ref, inUse func(Ref) (bool, error)) (bool, error)
	Walk(ctx context.Context, fn func(ref Ref, size int64) error) error
	// WalkShard walks the blobs whose hex name starts with shard (two hex
	// digits): fsck takes them 1/256th at a time.
	WalkShard(ctx context.Context, shard string, fn func(ref Ref, size int64) error) error
	Sum(ctx context.Context, ref Ref) (Ref, error)
}

// Dir is the local directory as a Backend.
type Dir struct{ *Store }

func (d Dir) Put(_ context.Context, r io.Reader, limit int64, commit func(Info) error) (Info, error) {
	return d.Store.Put(r, limit, commit)
}

func (d Dir) Stat(_ context.Context, ref Ref) (int64, error) { return d.Store.Stat(ref) }

func (d Dir) RemoveUnused(_ context.Context, ref Ref, inUse func(Ref) (bool, error)) (bool, error) {
	return d.Store.RemoveUnused(ref, inUse)
}

func (d Dir) Walk(_ context.Context, fn func(ref Ref, size int64) error) error {
	return d.Store.Walk(fn)
}

func (d Dir) Sum(_ context.Context, ref Ref) (Ref, error) { return d.Store.Sum(ref) }

func (d Dir) WalkShard(_ context.Context, shard string, fn func(ref Ref, size int64) error) error {
	return d.Store.WalkShard(shard, fn)
}

var (
	_ Backend = Dir{}
	_ Backend = (*S3Store)(nil)
)
