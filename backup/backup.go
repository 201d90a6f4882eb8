// Package backup writes and restores a Hangar data directory as one tar
// stream: "hangar.db", a consistent bbolt snapshot, then
// "blobs/ab/cd/<sha256>" for every blob the snapshot refers to. With blobs
// in an S3 bucket the archive holds the database and, instead of blobs,
// "BLOBS-IN-BUCKET.txt" saying where they are: the bucket keeps them (with
// versioning on, as docs/operations.md asks).
package backup

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"hangar/blob"
	"hangar/depot"
)

// dbName is the database's name in the archive (the archive's own layout,
// which happens to mirror a data directory's); bucketNote is the entry of a
// backup whose blobs stay in a bucket.
const (
	dbName     = "hangar.db"
	bucketNote = "BLOBS-IN-BUCKET.txt"
	maxNote    = 4 << 10
	maxCAFile  = 64 << 10
)

// caFiles are the local CA's files, in the archive and under a data
// directory alike. The server certificate is not kept: it is issued
// again at start.
var caFiles = []string{"tls/ca.key", "tls/ca.crt"}

// Write streams a backup of d to w while the server may be running: the
// database is copied in one read transaction, and blob removals wait
// (blob.Store.Hold) until every blob it refers to is copied.
func Write(w io.Writer, d *depot.Depot) (err error) {
	st, blobs := d.Store(), d.Blobs()
	release := blobs.Hold()
	defer func() {
		if rerr := release(); err == nil {
			err = rerr
		}
	}()
	// The snapshot goes to a temp file first: bbolt's read transaction
	// then ends at disk speed, not at the client's. A commit that grows
	// the database waits for every open read transaction, so streaming it
	// straight to a slow client would stall the server's writes.
	snap, err := blobs.CreateTemp("backup-db-*")
	if err != nil {
		return fmt.Errorf("backup database: %w", err)
	}
	defer func() {
		snap.Close()
		os.Remove(snap.Name())
	}()
	var sums []string
	var size int64
	err = st.Backup(func(n int64, writeTo func(io.Writer) (int64, error), refs []string) error {
		sums, size = refs, n
		_, err := writeTo(snap)
		return err
	})
	if err == nil {
		_, err = snap.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("backup database: %w", err)
	}
	tw := tar.NewWriter(w)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Name: dbName, Mode: 0o600, Size: size, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, snap, size); err != nil {
		return fmt.Errorf("backup database: %w", err)
	}
	// The local CA: without it a restored server would make a new one,
	// and every tester would have to trust that one again.
	for _, name := range caFiles {
		data, err := os.ReadFile(filepath.Join(d.DataDir(), filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("backup %s: %w", name, err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if b := d.Remote(); b != nil {
		note := fmt.Sprintf("This backup holds Hangar's database only. Its %d blobs are in the S3 bucket %s, under %s.\n"+
			"Restore it with a configuration whose [blobs] section names that bucket: hangar restore checks them there.\n",
			len(sums), b.Bucket(), b.Prefix()+"ab/cd/<sha256>")
		if err := tw.WriteHeader(&tar.Header{Name: bucketNote, Mode: 0o600, Size: int64(len(note)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, note); err != nil {
			return err
		}
		return tw.Close()
	}
	for _, sum := range sums {
		ref, err := blob.ParseRef(sum)
		if err != nil {
			return fmt.Errorf("backup: database refers to %w", err)
		}
		if err := writeBlob(tw, blobs, ref, now); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeBlob(tw *tar.Writer, blobs *blob.Store, ref blob.Ref, mtime time.Time) error {
	f, err := blobs.Open(ref)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	h := ref.String()
	hdr := &tar.Header{Name: path.Join("blobs", h[:2], h[2:4], h), Mode: 0o600, Size: fi.Size(), ModTime: mtime, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("backup blob %s: %w", ref, err)
	}
	return nil
}

// Report says what Restore did.
type Report struct {
	Blobs int
	// InBucket is the note of a backup whose blobs stay in an S3 bucket
	// ("" for a backup that holds them).
	InBucket string
	// Mismatches lists blobs whose content did not hash to their name; they
	// were not restored.
	Mismatches []string
	// CA is true when the local CA's key and certificate were restored.
	CA bool
}

// ErrNotEmpty is returned by Restore for a data directory that has files.
var ErrNotEmpty = errors.New("the data directory is not empty")

// Restore unpacks a backup into dataDir, which must be missing or empty.
// Every blob is streamed through the blob store, so its SHA-256 is computed
// and checked against its name; mismatches are reported and left out. Names
// that are not the database or a blob path are refused.
func Restore(r io.Reader, dataDir string) (Report, error) {
	var rep Report
	if ents, err := os.ReadDir(dataDir); err == nil && len(ents) > 0 {
		return rep, fmt.Errorf("%s: %w", dataDir, ErrNotEmpty)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return rep, err
	}
	blobs, err := blob.Open(depot.BlobDir(dataDir))
	if err != nil {
		return rep, err
	}
	tr := tar.NewReader(r)
	sawDB := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("read backup: %w", err)
		}
		switch {
		case hdr.Name == dbName && hdr.Typeflag == tar.TypeReg && !sawDB:
			sawDB = true
			if err := writeFileSync(depot.DBPath(dataDir), tr); err != nil {
				return rep, err
			}
		case hdr.Name == bucketNote && hdr.Typeflag == tar.TypeReg && rep.InBucket == "":
			note, err := io.ReadAll(io.LimitReader(tr, maxNote))
			if err != nil {
				return rep, fmt.Errorf("read backup: %w", err)
			}
			rep.InBucket = string(note)
		case slices.Contains(caFiles, hdr.Name) && hdr.Typeflag == tar.TypeReg:
			if hdr.Size > maxCAFile {
				return rep, fmt.Errorf("backup entry %s is too large (%d bytes)", hdr.Name, hdr.Size)
			}
			if err := os.MkdirAll(filepath.Join(dataDir, "tls"), 0o700); err != nil {
				return rep, err
			}
			if err := writeFileSync(filepath.Join(dataDir, filepath.FromSlash(hdr.Name)), io.LimitReader(tr, maxCAFile)); err != nil {
				return rep, err
			}
			rep.CA = true
		case strings.HasPrefix(hdr.Name, "blobs/") && hdr.Typeflag == tar.TypeReg:
			want, err := blob.ParseRef(path.Base(hdr.Name))
			if err != nil || hdr.Name != path.Join("blobs", want.String()[:2], want.String()[2:4], want.String()) {
				return rep, fmt.Errorf("backup entry %q is not a blob path", hdr.Name)
			}
			_, err = blobs.Put(tr, 0, func(info blob.Info) error {
				if info.Ref != want {
					return errMismatch
				}
				return nil
			})
			switch {
			case errors.Is(err, errMismatch):
				rep.Mismatches = append(rep.Mismatches, want.String())
			case err != nil:
				return rep, fmt.Errorf("restore blob %s: %w", want, err)
			default:
				rep.Blobs++
			}
		default:
			return rep, fmt.Errorf("backup entry %q is neither the database nor a blob", hdr.Name)
		}
	}
	if !sawDB {
		return rep, fmt.Errorf("the backup has no %s", dbName)
	}
	return rep, nil
}

var errMismatch = errors.New("content does not match the blob's name")

func writeFileSync(name string, r io.Reader) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
