// Package blob keeps file contents on disk, addressed by their SHA-256.
//
// A blob lives at DIR/ab/cd/abcd…(64 hex digits). Writes stream into a temp
// file under DIR/tmp on the same filesystem while hashing, are fsynced and
// renamed into place, and the directory is fsynced, so a crash leaves either
// no blob or a complete one, never a partial file at a blob's path.
//
// The package knows nothing of who refers to a blob. Callers that count
// references (the metadata store) pass a commit function to Put and a check to
// RemoveUnused; both run under a per-ref lock, which closes the race between
// "last reference dropped, remove the file" and "new upload of the same
// content found the file already there".
package blob

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hangar/pace"
)

var (
	// ErrNotFound is returned when no blob has the given ref.
	ErrNotFound = errors.New("blob: not found")
	// ErrTooLarge is returned by Put when the reader yields more than the limit.
	ErrTooLarge = errors.New("blob: content exceeds size limit")
	// ErrNoSpace is returned by Put when the filesystem is full.
	ErrNoSpace = errors.New("blob: no space left on device")
	// ErrRead wraps the reader's own error when Put cannot read the content
	// (a client that disconnects or stops sending): not the store's fault.
	ErrRead = errors.New("blob: reading the content failed")
)

// Info describes a stored blob.
type Info struct {
	Ref  Ref
	Size int64
	// Created is true when this Put stored new content, false when an identical
	// blob was already present.
	Created bool
	// Replaced is true when a blob was present under this ref but its
	// bytes were not the ref's (damaged on disk): this Put's bytes took its
	// place.
	Replaced bool
}

// Store is a content-addressed directory. It is safe for concurrent use.
type Store struct {
	dir   string
	tmp   string
	locks [256]sync.Mutex

	holdMu   sync.Mutex
	holds    int
	deferred map[Ref]func(Ref) (bool, error) // removals waiting for the holds to end
}

const tmpDirName = "tmp"

// Open opens (creating if needed) the store rooted at dir and removes temp
// files left by writes that never finished. Only the one process that owns the
// data directory may call it (the metadata store's file lock ensures that),
// since it deletes other writers' temp files.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir, tmp: filepath.Join(dir, tmpDirName)}
	if err := os.MkdirAll(s.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", s.tmp, err)
	}
	if _, err := s.CleanTemp(); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.dir }

// CleanTemp removes every temp file and returns how many it removed.
func (s *Store) CleanTemp() (int, error) {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return 0, fmt.Errorf("blob: read %s: %w", s.tmp, err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(s.tmp, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("blob: clean temp: %w", err)
		}
	}
	return len(entries), nil
}

// Path returns where the blob with ref lives (whether or not it exists).
func (s *Store) Path(ref Ref) string {
	h := ref.String()
	return filepath.Join(s.dir, h[0:2], h[2:4], h)
}

func (s *Store) lock(ref Ref) *sync.Mutex { return &s.locks[ref[0]] }

// Put streams r into the store and returns the new blob's ref and size.
//
// If limit > 0 and r yields more than limit bytes, Put stops reading, removes
// its temp file and returns an error wrapping ErrTooLarge. A full disk gives
// an error wrapping ErrNoSpace.
//
// If commit is not nil it runs once the blob is durable at its path, under the
// ref's lock: a concurrent RemoveUnused of the same ref waits for it. This is
// where callers record the reference. If commit fails and this Put created the
// blob, the blob is removed again and commit's error is returned.
func (s *Store) Put(r io.Reader, limit int64, commit func(Info) error) (Info, error) {
	tmp, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return Info{}, diskErr("create temp file", err)
	}
	tmpName := tmp.Name()
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()

	ref, size, err := copyHashed(tmp, r, limit)
	if err != nil {
		return Info{}, err
	}

	info := Info{Ref: ref, Size: size}
	mu := s.lock(ref)
	mu.Lock()
	defer func() { mu.Unlock() }() // re-locked below: the deferred call unlocks whichever holds

	// Identical content already stored (and intact) needs nothing of the
	// temp file: a duplicate costs its hashing, not a write to disk.
	final := s.Path(ref)
	stored, err := s.storedIntact(ref, size)
	if err != nil {
		return Info{}, err
	}
	if !stored {
		// The mark goes in before the fsync, which makes it durable too.
		if err := os.Chtimes(tmpName, time.Time{}, intactMark); err != nil {
			return Info{}, diskErr("mark temp file", err)
		}
		// The fsync is the slow part of a new blob: done without the lock,
		// which other uploads and removals of blobs on its stripe share.
		mu.Unlock()
		err := tmp.Sync()
		mu.Lock()
		if err != nil {
			return Info{}, diskErr("sync temp file", err)
		}
		// Another upload may have stored the same content meanwhile.
		if stored, err = s.storedIntact(ref, size); err != nil {
			return Info{}, err
		}
	}
	if !stored {
		if err := tmp.Close(); err != nil {
			return Info{}, diskErr("close temp file", err)
		}
		_, statErr := os.Stat(final)
		replacing := statErr == nil // present but damaged
		if !replacing {
			if err := s.mkdirs(filepath.Dir(final)); err != nil {
				return Info{}, err
			}
		}
		if err := os.Rename(tmpName, final); err != nil {
			return Info{}, diskErr("rename into place", err)
		}
		keep = true
		if err := syncDir(filepath.Dir(final)); err != nil {
			if !replacing {
				// The rename may not be durable: take the blob back out so
				// that no reference is recorded to a file a crash could lose.
				os.Remove(final)
			}
			return Info{}, diskErr("sync blob directory", err)
		}
		info.Created, info.Replaced = !replacing, replacing
	}

	if commit != nil {
		if err := commit(info); err != nil {
			if info.Created {
				os.Remove(final)
			}
			return Info{}, err
		}
	}
	return info, nil
}

// intactMark is the modification time of every blob as Put leaves it. Any
// write to a blob file (a tool, a restore by hand, a truncation) sets its
// modification time to the time of writing, so a blob that still has the
// mark has not been written since Hangar hashed it.
var intactMark = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// storedIntact reports whether blob ref is stored with size bytes whose
// SHA-256 is ref: deduplicating onto a damaged copy would acknowledge an
// upload whose bytes are lost. A copy of the right size that still carries
// intactMark is trusted without a read (a duplicate upload then costs its
// hashing only); any other is hashed, and marked when it is intact. Damage
// that leaves the size and the time alone (the disk's own) is what
// fsck -verify is for.
func (s *Store) storedIntact(ref Ref, size int64) (bool, error) {
	f, err := os.Open(s.Path(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, diskErr("open blob", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, diskErr("stat blob", err)
	}
	if fi.Size() != size {
		return false, nil
	}
	if fi.ModTime().Equal(intactMark) {
		return true, nil
	}
	got, err := sumOf(f)
	if err != nil {
		return false, diskErr("read blob", err)
	}
	if got != ref {
		return false, nil
	}
	// Marked for next time; not synced: a mark lost in a crash costs one
	// more read.
	if err := os.Chtimes(s.Path(ref), time.Time{}, intactMark); err != nil {
		return false, diskErr("mark blob", err)
	}
	return true, nil
}

// Sum returns the SHA-256 of blob ref's bytes as stored: ref itself unless
// they were damaged on disk. It reads the whole blob; it returns an error
// wrapping ErrNotFound for a missing one.
func (s *Store) Sum(ref Ref) (Ref, error) {
	f, err := s.Open(ref)
	if err != nil {
		return Ref{}, err
	}
	defer f.Close()
	got, err := sumOf(f)
	if err != nil {
		return Ref{}, fmt.Errorf("blob: read %s: %w", ref, err)
	}
	return got, nil
}

func sumOf(r io.Reader) (Ref, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return Ref{}, err
	}
	var got Ref
	h.Sum(got[:0])
	return got, nil
}

// CreateTemp creates a file in the store's temp directory, on the same
// disk and removed at the next Open if it is left behind.
func (s *Store) CreateTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(s.tmp, pattern)
	if err != nil {
		return nil, diskErr("create temp file", err)
	}
	return f, nil
}

// Free returns the bytes available to this process on the blob
// directory's file system.
func (s *Store) Free() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return 0, fmt.Errorf("blob: statfs %s: %w", s.dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// mkdirs creates dir and its missing parents below s.dir, fsyncing the parent
// of each directory it creates so that the new entries survive a crash.
func (s *Store) mkdirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != s.dir {
		if err := s.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return diskErr("create blob directory", err)
	}
	return diskErr("sync blob directory", syncDir(parent))
}

// Open opens the blob for reading. The caller closes the file. Returning
// *os.File (not an io.Reader) is deliberate: net/http then serves it with
// sendfile.
func (s *Store) Open(ref Ref) (*os.File, error) {
	f, err := os.Open(s.Path(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", ref, err)
	}
	return f, nil
}

// Stat returns the size of the blob, or an error wrapping ErrNotFound.
func (s *Store) Stat(ref Ref) (int64, error) {
	fi, err := os.Stat(s.Path(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if err != nil {
		return 0, fmt.Errorf("blob: stat %s: %w", ref, err)
	}
	return fi.Size(), nil
}

// Remove deletes the blob. Removing a missing blob is not an error. It does
// not check references: use RemoveUnused where uploads may be running.
func (s *Store) Remove(ref Ref) error {
	err := os.Remove(s.Path(ref))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: remove %s: %w", ref, err)
	}
	return nil
}

// RemoveUnused deletes the blob if inUse, called under the ref's lock, says
// nobody refers to it. It reports whether it removed the blob. Because Put
// runs its commit under the same lock, an upload of the same content either
// records its reference before inUse looks, or stores the file anew after it
// is gone.
func (s *Store) RemoveUnused(ref Ref, inUse func(Ref) (bool, error)) (bool, error) {
	s.holdMu.Lock()
	if s.holds > 0 {
		s.deferred[ref] = inUse
		s.holdMu.Unlock()
		return false, nil
	}
	s.holdMu.Unlock()
	mu := s.lock(ref)
	mu.Lock()
	defer mu.Unlock()
	used, err := inUse(ref)
	if err != nil || used {
		return false, err
	}
	if err := s.Remove(ref); err != nil {
		return false, err
	}
	return true, nil
}

// Hold delays every RemoveUnused until the returned release is called (by
// every holder): a backup copies the blobs its database snapshot refers to,
// and none of them may disappear meanwhile. Release runs the deferred
// removals, each checking again whether the blob is still unused. Release
// returns the first error of those removals.
func (s *Store) Hold() (release func() error) {
	s.holdMu.Lock()
	s.holds++
	if s.deferred == nil {
		s.deferred = map[Ref]func(Ref) (bool, error){}
	}
	s.holdMu.Unlock()
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			s.holdMu.Lock()
			s.holds--
			var todo map[Ref]func(Ref) (bool, error)
			if s.holds == 0 {
				todo, s.deferred = s.deferred, nil
			}
			s.holdMu.Unlock()
			for ref, inUse := range todo {
				if _, rerr := s.RemoveUnused(ref, inUse); rerr != nil && err == nil {
					err = rerr
				}
			}
		})
		return err
	}
}

// Walk calls fn for every blob in the store, in order of ref. Files whose
// names are not refs, and the temp directory, are skipped. An error from fn
// stops the walk and is returned.
func (s *Store) Walk(fn func(ref Ref, size int64) error) error {
	return s.walk(s.dir, fn)
}

// WalkShard is Walk over the blobs whose hex name starts with shard (two
// hex digits: one of 256 directories), so that a caller can hold one
// shard's blobs at a time.
func (s *Store) WalkShard(shard string, fn func(ref Ref, size int64) error) error {
	if len(shard) != 2 || strings.Trim(shard, "0123456789abcdef") != "" {
		return fmt.Errorf("blob: shard %q is not two hex digits", shard)
	}
	return s.walk(filepath.Join(s.dir, shard), fn)
}

func (s *Store) walk(root string, fn func(ref Ref, size int64) error) error {
	// A walk is background work (fsck beside a running server): its
	// system calls are quick, so the goroutine would keep its processor
	// through thousands of them.
	var w pace.Worker
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		w.Step()
		if errors.Is(err, fs.ErrNotExist) && path == root {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == s.tmp {
				return filepath.SkipDir
			}
			return nil
		}
		ref, perr := ParseRef(d.Name())
		if perr != nil || path != s.Path(ref) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return fn(ref, fi.Size())
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// diskErr wraps err with what was being done, mapping a full disk to
// ErrNoSpace so that callers can answer 507. A nil err stays nil.
func diskErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %s: %v", ErrNoSpace, what, err)
	}
	return fmt.Errorf("blob: %s: %w", what, err)
}
