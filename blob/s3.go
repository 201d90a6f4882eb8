package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Store keeps blobs in an S3-compatible bucket, under the same layout as
// the directory: PREFIX/ab/cd/abcd…. A write streams into a multipart
// upload under PREFIX/tmp/ while hashing (four part buffers of PartSize
// outside the Go heap, uploaded side by side: 24 MiB per upload by
// default; s3upload.go), then is copied on the server to its content
// address when that is new, and the temporary object removed: a crash leaves at most a
// temporary object or an unfinished multipart upload, which CleanTemp
// removes after an age, never a partial object at a blob's key.
//
// Like Store, it knows nothing of references: Put's commit and
// RemoveUnused's check run under a per-ref lock (in this process: the one
// that owns the metadata).
type S3Store struct {
	client   *minio.Client
	bucket   string
	prefix   string // "" or ending in "/"
	partSize uint64
	locks    [256]sync.Mutex
	ops      [numOps]opStats
}

// The store's operations, as metrics count them (a fixed set: bounded
// labels).
const (
	OpUpload = iota // a multipart upload of a new blob's bytes
	OpCopy          // the server-side copy to the content address
	OpStat
	OpGet
	OpRemove
	OpList
	numOps
)

// OpNames are the operations' metric labels.
var OpNames = [numOps]string{"upload", "copy", "stat", "get", "remove", "list"}

type opStats struct {
	count, errors, nanos atomic.Uint64
}

// OpStats is what the store counted of one operation.
type OpStats struct {
	Count, Errors uint64
	Seconds       float64
}

// Stats are the operations counted since the store was opened.
func (s *S3Store) Stats() [numOps]OpStats {
	var out [numOps]OpStats
	for i := range s.ops {
		out[i] = OpStats{Count: s.ops[i].count.Load(), Errors: s.ops[i].errors.Load(), Seconds: float64(s.ops[i].nanos.Load()) / 1e9}
	}
	return out
}

// observe counts one operation that began at start.
func (s *S3Store) observe(op int, start time.Time, err error) {
	o := &s.ops[op]
	o.count.Add(1)
	o.nanos.Add(uint64(time.Since(start)))
	if err != nil {
		o.errors.Add(1)
	}
}

// S3Options say where the bucket is. Credentials come from the caller (the
// environment or a credentials file, never the configuration's text).
type S3Options struct {
	Endpoint  string // host[:port]
	Bucket    string
	Region    string
	Prefix    string // a key prefix inside the bucket, e.g. "hangar/"
	Secure    bool   // https
	PathStyle bool   // bucket in the path, not the host name (most self-hosted stores)
	AccessKey string
	SecretKey string
	// PartSize is the multipart part size; an upload holds four. Default
	// 6 MiB (at most 10,000 parts: 58 GiB per blob).
	PartSize uint64
}

// OpenS3 connects to the bucket and checks that it exists.
func OpenS3(ctx context.Context, o S3Options) (*S3Store, error) {
	lookup := minio.BucketLookupDNS
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:       o.Secure,
		Region:       o.Region,
		BucketLookup: lookup,
		// A few retries ride out a blip; more would hold an upload (and
		// its client) for many seconds before the 503 a store that is down
		// deserves.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 %s: %w", o.Endpoint, err)
	}
	ok, err := client.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 bucket %s: %w", o.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("blob: s3 bucket %s does not exist", o.Bucket)
	}
	prefix := strings.Trim(o.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	if o.PartSize == 0 {
		o.PartSize = 6 << 20
	}
	return &S3Store{client: client, bucket: o.Bucket, prefix: prefix, partSize: o.PartSize}, nil
}

// ErrUnavailable wraps the store's failures (unreachable, refusing):
// nothing was recorded, and the request may be tried again.
var ErrUnavailable = errors.New("blob: the S3 store is unavailable")

// Ping checks that the bucket answers.
func (s *S3Store) Ping(ctx context.Context) error {
	if _, err := s.client.BucketExists(ctx, s.bucket); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Bucket is the bucket's name, Prefix the key prefix blobs are under.
func (s *S3Store) Bucket() string { return s.bucket }

func (s *S3Store) Prefix() string { return s.prefix }

// Key is the object key of a blob.
func (s *S3Store) Key(ref Ref) string {
	h := ref.String()
	return s.prefix + h[0:2] + "/" + h[2:4] + "/" + h
}

func (s *S3Store) tmpPrefix() string { return s.prefix + tmpDirName + "/" }

func (s *S3Store) lock(ref Ref) *sync.Mutex { return &s.locks[ref[0]] }

// hashingReader hashes what it yields, counts it, stops at a limit and
// marks the source's own errors, so that Put can tell them from the
// store's.
type hashingReader struct {
	r     io.Reader
	h     io.Writer
	n     int64
	limit int64
	err   error // the reason reading stopped, if not EOF
}

// randomName is a temporary object's unique part.
func randomName() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if h.limit > 0 && h.n > h.limit {
		h.err = ErrTooLarge
		return 0, h.err
	}
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	if h.limit > 0 && h.n > h.limit {
		h.err = ErrTooLarge
		return n, h.err
	}
	if err != nil && err != io.EOF {
		h.err = fmt.Errorf("%w: %w", ErrRead, err)
		return n, h.err
	}
	return n, err
}

// Put streams r into the bucket and returns the blob's ref and size, with
// the same contract as Store.Put: limit, ErrTooLarge, ErrRead, and commit
// under the ref's lock once the object is at its key.
func (s *S3Store) Put(ctx context.Context, r io.Reader, limit int64, commit func(Info) error) (Info, error) {
	sum := sha256.New()
	hr := &hashingReader{r: r, h: sum, limit: limit}
	tmp := s.tmpPrefix() + time.Now().UTC().Format("20060102T150405Z") + "-" + randomName()
	began := time.Now()
	err := s.upload(ctx, tmp, hr, limit)
	s.observe(OpUpload, began, err)
	if err != nil {
		// upload aborted the multipart upload; a single PutObject may
		// have landed before a later error.
		s.client.RemoveObject(context.WithoutCancel(ctx), s.bucket, tmp, minio.RemoveObjectOptions{})
		if hr.err != nil {
			return Info{}, fmt.Errorf("blob: %w", hr.err)
		}
		return Info{}, fmt.Errorf("%w: upload: %w", ErrUnavailable, err)
	}
	defer s.client.RemoveObject(context.WithoutCancel(ctx), s.bucket, tmp, minio.RemoveObjectOptions{})
	var ref Ref
	copy(ref[:], sum.Sum(nil))
	info := Info{Ref: ref, Size: hr.n}

	mu := s.lock(ref)
	mu.Lock()
	defer mu.Unlock()
	size, err := s.Stat(ctx, ref)
	switch {
	case err == nil && size == info.Size:
		// Present: content addressing makes it these bytes.
	case err == nil || errors.Is(err, ErrNotFound):
		info.Replaced = err == nil // a damaged object of the wrong size
		dst := minio.CopyDestOptions{Bucket: s.bucket, Object: s.Key(ref)}
		began := time.Now()
		_, err := s.client.ComposeObject(ctx, dst, minio.CopySrcOptions{Bucket: s.bucket, Object: tmp})
		s.observe(OpCopy, began, err)
		if err != nil {
			return Info{}, fmt.Errorf("%w: copy to %s: %w", ErrUnavailable, s.Key(ref), err)
		}
		info.Created = true
	default:
		return Info{}, err
	}
	if commit != nil {
		if err := commit(info); err != nil {
			if info.Created {
				s.client.RemoveObject(context.WithoutCancel(ctx), s.bucket, s.Key(ref), minio.RemoveObjectOptions{})
			}
			return Info{}, err
		}
	}
	return info, nil
}

// Stat returns a blob's size, or ErrNotFound.
func (s *S3Store) Stat(ctx context.Context, ref Ref) (int64, error) {
	began := time.Now()
	oi, err := s.client.StatObject(ctx, s.bucket, s.Key(ref), minio.StatObjectOptions{})
	if err != nil && !isNoSuchKey(err) {
		s.observe(OpStat, began, err)
	} else {
		s.observe(OpStat, began, nil)
	}
	if err != nil {
		if isNoSuchKey(err) {
			return 0, ErrNotFound
		}
		return 0, fmt.Errorf("%w: stat %s: %w", ErrUnavailable, s.Key(ref), err)
	}
	return oi.Size, nil
}

func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound" || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound
}

// Open returns a reader of a blob that can seek (ranges), or ErrNotFound.
func (s *S3Store) Open(ctx context.Context, ref Ref) (io.ReadSeekCloser, int64, error) {
	size, err := s.Stat(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	began := time.Now()
	obj, err := s.client.GetObject(ctx, s.bucket, s.Key(ref), minio.GetObjectOptions{})
	s.observe(OpGet, began, err)
	if err != nil {
		return nil, 0, fmt.Errorf("blob: s3 get %s: %w", s.Key(ref), err)
	}
	return obj, size, nil
}

// PresignedGet is a URL of the store that downloads a blob for ttl, with
// the response headers a download needs: the file's type and a
// Content-Disposition naming it.
func (s *S3Store) PresignedGet(ctx context.Context, ref Ref, contentType, disposition string, ttl time.Duration) (string, error) {
	q := url.Values{}
	if contentType != "" {
		q.Set("response-content-type", contentType)
	}
	if disposition != "" {
		q.Set("response-content-disposition", disposition)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.Key(ref), ttl, q)
	if err != nil {
		return "", fmt.Errorf("blob: s3 presign %s: %w", s.Key(ref), err)
	}
	return u.String(), nil
}

// RemoveUnused removes a blob if inUse says nothing refers to it, under the
// ref's lock (see Store.RemoveUnused).
func (s *S3Store) RemoveUnused(ctx context.Context, ref Ref, inUse func(Ref) (bool, error)) (bool, error) {
	mu := s.lock(ref)
	mu.Lock()
	defer mu.Unlock()
	used, err := inUse(ref)
	if err != nil || used {
		return false, err
	}
	began := time.Now()
	err = s.client.RemoveObject(ctx, s.bucket, s.Key(ref), minio.RemoveObjectOptions{})
	s.observe(OpRemove, began, err)
	if err != nil {
		return false, fmt.Errorf("blob: s3 remove %s: %w", s.Key(ref), err)
	}
	return true, nil
}

// Walk calls fn for every blob in the bucket, in key order.
func (s *S3Store) Walk(ctx context.Context, fn func(ref Ref, size int64) error) error {
	return s.walk(ctx, s.prefix, fn)
}

// WalkShard calls fn for every blob whose name starts with shard.
func (s *S3Store) WalkShard(ctx context.Context, shard string, fn func(ref Ref, size int64) error) error {
	if len(shard) != 2 || strings.Trim(shard, "0123456789abcdef") != "" {
		return fmt.Errorf("blob: shard %q is not two hex digits", shard)
	}
	return s.walk(ctx, s.prefix+shard+"/", fn)
}

func (s *S3Store) walk(ctx context.Context, prefix string, fn func(ref Ref, size int64) error) (err error) {
	began := time.Now()
	defer func() { s.observe(OpList, began, err) }()
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("blob: s3 list: %w", oi.Err)
		}
		if strings.HasPrefix(oi.Key, s.tmpPrefix()) {
			continue
		}
		ref, err := ParseRef(path.Base(oi.Key))
		if err != nil || oi.Key != s.Key(ref) {
			continue // not a blob: someone else's object under the prefix
		}
		if err := fn(ref, oi.Size); err != nil {
			return err
		}
	}
	return nil
}

// Sum reads a blob back and returns the SHA-256 of its bytes.
func (s *S3Store) Sum(ctx context.Context, ref Ref) (Ref, error) {
	obj, _, err := s.Open(ctx, ref)
	if err != nil {
		return Ref{}, err
	}
	defer obj.Close()
	return sumOf(obj)
}

// CleanTemp removes temporary objects and unfinished multipart uploads
// older than age (those of a crashed or killed process; younger ones may
// be uploads in flight) and returns how many it removed.
func (s *S3Store) CleanTemp(ctx context.Context, age time.Duration) (int, error) {
	cutoff := time.Now().Add(-age)
	n := 0
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.tmpPrefix(), Recursive: true}) {
		if oi.Err != nil {
			return n, fmt.Errorf("blob: s3 list: %w", oi.Err)
		}
		if oi.LastModified.Before(cutoff) {
			if err := s.client.RemoveObject(ctx, s.bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil {
				return n, err
			}
			n++
		}
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.tmpPrefix(), true) {
		if up.Err != nil {
			return n, fmt.Errorf("blob: s3 list uploads: %w", up.Err)
		}
		if up.Initiated.Before(cutoff) {
			if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, up.Key); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
