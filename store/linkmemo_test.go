package store

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The memo serves a link only while the stored bytes are those it
// wrote: not after another change to the link, not after its own write
// was rolled back.
func TestLinkMemo(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "hangar.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &linkMemo{}
	read := func() PublicLink {
		t.Helper()
		var l PublicLink
		if err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			l, err = m.get(tx.Bucket(bucketLinks), "L1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	write := func(fn func(*bolt.Bucket) error) error {
		return s.db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketLinks)) })
	}

	if err := write(func(b *bolt.Bucket) error {
		return m.put(b, "L1", PublicLink{ID: "L1", IsActive: true, AccessCount: 1})
	}); err != nil {
		t.Fatal(err)
	}
	if l := read(); l.AccessCount != 1 || !l.IsActive {
		t.Fatalf("as written: %+v", l)
	}
	// Changed by another write (as DeactivateLink does).
	if err := write(func(b *bolt.Bucket) error { return put(b, []byte("L1"), PublicLink{ID: "L1", AccessCount: 1}) }); err != nil {
		t.Fatal(err)
	}
	if l := read(); l.IsActive {
		t.Fatalf("changed elsewhere, the memo's served: %+v", l)
	}
	// Written by a download whose transaction was rolled back.
	rollback := errors.New("rolled back")
	if err := write(func(b *bolt.Bucket) error {
		if err := m.put(b, "L1", PublicLink{ID: "L1", IsActive: true, AccessCount: 2}); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if l := read(); l.IsActive || l.AccessCount != 1 {
		t.Fatalf("rolled back, the memo's served: %+v", l)
	}
}
