package depot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"hangar/blob"
	"hangar/store"
)

// NewFile is a file to add to a build: its metadata as the caller decided
// it (name, type, extension, MIME type); size and checksum come from the
// bytes.
type NewFile struct {
	BuildID, Type, Name, Extension, MimeType string
	// SHA256 and Size, when the client declared them (Content-Digest and
	// Content-Length; Size -1 if unknown), let a duplicate be hashed
	// instead of written, and are checked. Without a digest, a body of the
	// name (and size) of a file in the project's newest builds is compared
	// with that file's content as it arrives, and is not written while it
	// matches (blob.PutLike).
	SHA256 []byte
	Size   int64
	// BodyOptional says the request may be answered without its body
	// being read (see server's bodyOptional): with a declared digest of
	// content a build of the same project holds already, the file takes
	// that content and the body is never read. The project's uploaders
	// hold those bytes already, so nothing is given away; across projects
	// the bytes are read and hashed, as a claimed digest proves nothing.
	BodyOptional bool
}

// AddFile streams body into the blob directory and records it as a file
// of its build, in the transaction that counts its reference and its
// workspace's storageUsed. Over max_upload_size it returns an error
// wrapping ErrTooLarge, over the workspace's quota store.ErrQuotaExceeded,
// on a full disk ErrNoSpace; on any error nothing stays behind.
func (d *Depot) AddFile(nf NewFile, body io.Reader) (store.File, error) {
	var f store.File
	record := func(info blob.Info) error {
		var err error
		f, err = d.store.AddFile(store.File{
			BuildID:   nf.BuildID,
			Type:      nf.Type,
			Name:      nf.Name,
			Path:      nf.Name,
			Extension: nf.Extension,
			MimeType:  nf.MimeType,
			Size:      info.Size,
			Checksum:  info.Ref.String(),
		})
		return err
	}
	ctx := context.Background()
	declared := len(nf.SHA256) == len(blob.Ref{})
	if declared && nf.BodyOptional && nf.Size >= 0 {
		ref := blob.Ref(nf.SHA256)
		held, err := d.store.ProjectHoldsContent(nf.BuildID, ref.String(), nf.Size)
		if err != nil {
			return store.File{}, err
		}
		if held {
			_, err := d.backend.Reuse(ctx, ref, nf.Size, record)
			if !errors.Is(err, blob.ErrNotFound) {
				return f, err
			}
			// Removed since it was looked up: the body is needed after all.
		}
	}
	put := d.backend.Put
	if declared {
		put = func(ctx context.Context, r io.Reader, limit int64, commit func(blob.Info) error) (blob.Info, error) {
			return d.backend.PutKnown(ctx, r, limit, blob.Ref(nf.SHA256), nf.Size, commit)
		}
	} else if like, err := d.store.LikelyCopy(nf.BuildID, nf.Name, nf.Size); err != nil {
		return store.File{}, err
	} else if ref, err := blob.ParseRef(like); err == nil {
		put = func(ctx context.Context, r io.Reader, limit int64, commit func(blob.Info) error) (blob.Info, error) {
			return d.backend.PutLike(ctx, r, limit, ref, commit)
		}
	}
	info, err := put(ctx, body, d.cfg.MaxUploadSize, record)
	if err == nil && info.Replaced {
		d.log.Warn("a damaged blob was replaced by an identical upload", "checksum", info.Ref.String(), "file", f.ID)
		d.counters.replaced.Add(1)
	}
	return f, err
}

// ErrDamaged is returned by OpenFile for a file whose blob on disk does
// not have the file's size (truncated, or something else put there).
var ErrDamaged = errors.New("the stored copy of the file is damaged")

// FileURL is, for blobs in a bucket, a presigned URL of the store that
// downloads file f for ttl, with its content type and a Content-Disposition
// of disposition.
func (d *Depot) FileURL(f store.File, disposition string, ttl time.Duration) (string, error) {
	ref, err := blob.ParseRef(f.Checksum)
	if err != nil {
		return "", fmt.Errorf("file %s: %w", f.ID, err)
	}
	return d.remote.PresignedGet(context.Background(), ref, f.MimeType, disposition, ttl)
}

// OpenRemoteFile opens a file's bytes in the bucket for reading, with
// seeking (ranges): the proxy delivery mode.
func (d *Depot) OpenRemoteFile(ctx context.Context, f store.File) (io.ReadSeekCloser, error) {
	ref, err := blob.ParseRef(f.Checksum)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", f.ID, err)
	}
	r, size, err := d.remote.Open(ctx, ref)
	if errors.Is(err, blob.ErrNotFound) {
		if _, serr := d.store.File(f.ID); errors.Is(serr, store.ErrNotFound) {
			return nil, serr
		}
		return nil, fmt.Errorf("blob of file %s missing from the bucket: %w", f.ID, err)
	}
	if err != nil {
		return nil, err
	}
	if size != f.Size {
		r.Close()
		d.log.Error("damaged blob not served", "file", f.ID, "checksum", f.Checksum, "size", f.Size, "in_bucket", size)
		d.counters.refused.Add(1)
		return nil, fmt.Errorf("file %s: %w", f.ID, ErrDamaged)
	}
	return r, nil
}

// OpenFile opens a file's bytes for reading: an *os.File, so that
// net/http serves it with sendfile. It returns store.ErrNotFound if the
// file was deleted meanwhile, ErrDamaged if its blob's size is wrong
// (logged and counted), or an error saying the blob is missing while its
// row remains (fsck's to report).
func (d *Depot) OpenFile(f store.File) (*os.File, error) {
	ref, err := blob.ParseRef(f.Checksum)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", f.ID, err)
	}
	fh, err := d.blobs.Open(ref)
	if errors.Is(err, blob.ErrNotFound) {
		// Either the file was deleted since it was read, or its blob is
		// lost from disk while the row remains.
		if _, serr := d.store.File(f.ID); errors.Is(serr, store.ErrNotFound) {
			return nil, serr
		}
		return nil, fmt.Errorf("blob of file %s missing from disk: %w", f.ID, err)
	}
	if err != nil {
		return nil, err
	}
	// Serving a blob of the wrong size would deliver a broken build with
	// the right name and ETag. One fstat; the content is fsck -verify's to
	// check.
	if fi, err := fh.Stat(); err != nil || fi.Size() != f.Size {
		fh.Close()
		size := int64(-1)
		if err == nil {
			size = fi.Size()
		}
		d.log.Error("damaged blob not served", "file", f.ID, "checksum", f.Checksum, "size", f.Size, "on_disk", size, "err", err)
		d.counters.refused.Add(1)
		return nil, fmt.Errorf("file %s: %w", f.ID, ErrDamaged)
	}
	return fh, nil
}

// DeleteFile deletes a file: its workspace's storageUsed drops, its links
// stop working, and its blob goes when no file uses it any more; the
// audit log records it as done by as. It returns store.ErrNotFound for a file already gone.
func (d *Depot) DeleteFile(as store.Actor, id string) (store.File, error) {
	f, last, err := d.store.As(as).DeleteFile(id)
	if err != nil {
		return f, err
	}
	if last {
		d.removeBlobs(f.Checksum)
	}
	return f, nil
}

// DeleteFiles undoes uploads: it deletes the files, then their blobs if
// nothing else uses them. Failures are logged (what stays is an orphan
// for fsck, never a wrong answer).
func (d *Depot) DeleteFiles(files []store.File) {
	for _, f := range files {
		if _, err := d.DeleteFile(store.System, f.ID); err != nil {
			d.log.Error("undo upload", "file", f.ID, "err", err)
		}
	}
}

// removeBlobs removes blobs that lost their last reference, unless an
// upload has referred to them again since.
func (d *Depot) removeBlobs(checksums ...string) {
	for _, sum := range checksums {
		ref, err := blob.ParseRef(sum)
		if err == nil {
			_, err = d.RemoveBlobIfUnused(ref)
		}
		if err != nil {
			// The blob stays as an orphan, which fsck reports; nothing
			// refers to it, so no answer is wrong.
			d.log.Error("remove unused blob", "checksum", sum, "err", err)
		}
	}
}

// RemoveBlobIfUnused removes a blob if no file refers to it, checked
// under the blob's lock so that an upload of the same content cannot be
// left pointing at nothing. It reports whether it removed the blob.
func (d *Depot) RemoveBlobIfUnused(ref blob.Ref) (bool, error) {
	return d.backend.RemoveUnused(context.Background(), ref, func(blob.Ref) (bool, error) { return d.store.BlobInUse(ref.String()) })
}
