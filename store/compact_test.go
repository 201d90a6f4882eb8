package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hangar/store"
)

// After gc frees most of a database, Compact gives a smaller file with
// every live key, and refuses while the database is open elsewhere.
func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hangar.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(""); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(store.User{Username: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		exp := time.Now().Add(-time.Hour) // expired: gc removes them
		if i%100 == 0 {
			exp = time.Now().Add(time.Hour)
		}
		if _, _, err := s.CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := s.GC(time.Now()); err != nil || res.Sessions != 4950 {
		t.Fatalf("gc: %+v %v", res, err)
	}
	if _, _, err := store.Compact(path); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("compact of an open database: %v", err)
	}
	want, _ := s.AllTokens()
	s.Close()

	before, after, err := store.Compact(path)
	if err != nil || after >= before || after == 0 {
		t.Fatalf("compact: %d → %d bytes, %v", before, after, err)
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	s, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.AllTokens()
	if err != nil || len(got) != len(want) || len(got) != 51 {
		t.Fatalf("after compact: %d tokens (want %d), %v", len(got), len(want), err)
	}
	if _, err := s.User(u.ID); err != nil {
		t.Fatalf("user after compact: %v", err)
	}
	t.Logf("%d → %d bytes", before, after)
}
