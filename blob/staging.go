package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Staging keeps the parts of a file uploaded in pieces (App Center's
// chunked uploads: numbered blocks, sent in any order, some again) until
// they are put together into a blob. The parts live beside the blobs: a
// "staging" directory of the local store, or a "staging/" prefix of the
// bucket, so that a restart between parts loses nothing, and a bucket's
// deployment needs no local disk for them. Part names are not refs: walks
// and fsck pass them by.
type Staging interface {
	// PutPart stores part n (from 1) of upload, exactly size bytes of r,
	// replacing any earlier copy; a short or long body is an error and
	// leaves no part.
	PutPart(ctx context.Context, upload string, n int, r io.Reader, size int64) error
	// OpenPart reads part n.
	OpenPart(ctx context.Context, upload string, n int) (io.ReadCloser, error)
	// Remove removes an upload's parts.
	Remove(ctx context.Context, upload string) error
}

const stagingName = "staging"

// validUpload keeps an upload's name one path segment.
func validUpload(upload string) error {
	if upload == "" || strings.ContainsAny(upload, `/\.`) || len(upload) > 64 {
		return fmt.Errorf("blob: staging: bad upload name %q", upload)
	}
	return nil
}

// ErrPartSize says a part's body was not its declared size.
var ErrPartSize = errors.New("blob: the part's body is not its declared size")

// Staging returns the local store's staging area.
func (s *Store) Staging() Staging { return dirStaging{s} }

type dirStaging struct{ s *Store }

func (d dirStaging) dir(upload string) string { return filepath.Join(d.s.dir, stagingName, upload) }

func (d dirStaging) PutPart(_ context.Context, upload string, n int, r io.Reader, size int64) error {
	if err := validUpload(upload); err != nil {
		return err
	}
	dir := d.dir(upload)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return diskErr("staging", err)
	}
	f, err := os.CreateTemp(dir, "part-*.tmp")
	if err != nil {
		return diskErr("staging", err)
	}
	defer os.Remove(f.Name()) // gone once renamed
	written, err := io.Copy(f, io.LimitReader(r, size+1))
	if err == nil && written != size {
		err = ErrPartSize
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, strconv.Itoa(n))); err != nil {
		return diskErr("staging", err)
	}
	return nil
}

func (d dirStaging) OpenPart(_ context.Context, upload string, n int) (io.ReadCloser, error) {
	if err := validUpload(upload); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.dir(upload), strconv.Itoa(n)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

func (d dirStaging) Remove(_ context.Context, upload string) error {
	if err := validUpload(upload); err != nil {
		return err
	}
	return os.RemoveAll(d.dir(upload))
}

// Staging returns the bucket's staging area.
func (s *S3Store) Staging() Staging { return s3Staging{s} }

type s3Staging struct{ s *S3Store }

func (st s3Staging) key(upload string, n int) string {
	return st.s.prefix + stagingName + "/" + upload + "/" + strconv.Itoa(n)
}

func (st s3Staging) PutPart(ctx context.Context, upload string, n int, r io.Reader, size int64) error {
	if err := validUpload(upload); err != nil {
		return err
	}
	began := time.Now()
	// PutObject with a known size sends exactly size bytes; a body that
	// ends sooner fails, one that goes on is checked after.
	cr := &countingReader{r: io.LimitReader(r, size+1)}
	_, err := st.s.client.PutObject(ctx, st.s.bucket, st.key(upload, n), io.LimitReader(cr, size), size,
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
	st.s.observe(OpUpload, began, err)
	if err != nil && cr.n < size {
		return ErrPartSize // the body ended early: nothing was stored
	}
	if err != nil {
		return fmt.Errorf("blob: s3 staging put: %w", err)
	}
	var extra [1]byte
	if k, _ := cr.r.Read(extra[:]); k > 0 || cr.n != size {
		st.s.client.RemoveObject(ctx, st.s.bucket, st.key(upload, n), minio.RemoveObjectOptions{})
		return ErrPartSize
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (st s3Staging) OpenPart(ctx context.Context, upload string, n int) (io.ReadCloser, error) {
	if err := validUpload(upload); err != nil {
		return nil, err
	}
	if _, err := st.s.client.StatObject(ctx, st.s.bucket, st.key(upload, n), minio.StatObjectOptions{}); err != nil {
		if isNoSuchKey(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return st.s.client.GetObject(ctx, st.s.bucket, st.key(upload, n), minio.GetObjectOptions{})
}

func (st s3Staging) Remove(ctx context.Context, upload string) error {
	if err := validUpload(upload); err != nil {
		return err
	}
	prefix := st.s.prefix + stagingName + "/" + upload + "/"
	for oi := range st.s.client.ListObjectsIter(ctx, st.s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("blob: s3 list: %w", oi.Err)
		}
		if err := st.s.client.RemoveObject(ctx, st.s.bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	return nil
}
