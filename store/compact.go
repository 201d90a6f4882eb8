package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Compact rewrites the database at path into a new file holding only its
// live pages, checks that every bucket kept all its keys, and puts it in
// place of the old one (renamed over it, the directory synced). It is for
// a stopped server: it holds the database's lock throughout (ErrLocked
// while a server runs). After gc has freed many pages (a mass expiry of
// access logs), every commit writes the whole list of free pages until
// they are reused; a compacted file has none, and is smaller.
func Compact(path string) (before, after int64, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, 0, fmt.Errorf("store: %w", err) // never made here: an empty new one would hide its loss
	}
	if err := checkFile(path); err != nil {
		return 0, 0, err
	}
	src, err := openBolt(path, time.Second)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return 0, 0, fmt.Errorf("%s: %w (stop the server first)", path, ErrLocked)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer src.Close()
	if fi, err := os.Stat(path); err == nil {
		before = fi.Size()
	}
	tmp := path + ".compact"
	os.Remove(tmp) // a leftover of an interrupted run
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		return before, 0, fmt.Errorf("store: %w", err)
	}
	err = bolt.Compact(dst, src, 64<<20)
	if err == nil {
		err = sameKeys(src, dst)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return before, 0, fmt.Errorf("store: compact %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return before, 0, fmt.Errorf("store: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return before, 0, fmt.Errorf("store: sync %s: %w", filepath.Dir(path), err)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}

// sameKeys checks that every top-level bucket of a holds as many keys
// (nested ones included) in b.
func sameKeys(a, b *bolt.DB) error {
	return a.View(func(ta *bolt.Tx) error {
		return b.View(func(tb *bolt.Tx) error {
			return ta.ForEach(func(name []byte, ba *bolt.Bucket) error {
				bb := tb.Bucket(name)
				if bb == nil {
					return fmt.Errorf("bucket %s missing from the copy", name)
				}
				if na, nb := ba.Stats().KeyN, bb.Stats().KeyN; na != nb {
					return fmt.Errorf("bucket %s: %d keys, %d in the copy", name, na, nb)
				}
				return nil
			})
		})
	})
}
