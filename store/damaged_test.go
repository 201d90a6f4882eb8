package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"hangar/store"
)

// A database file cut short, overwritten or with a damaged page gives
// ErrDamaged, never a crash: bbolt maps the file and faults on a short one.
func TestDamagedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hangar.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := st.CreateWorkspace(store.Workspace{Slug: fmt.Sprintf("ws%d", i), Name: fmt.Sprintf("Workspace number %d with a long name", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CheckPages(); err != nil {
		t.Fatalf("intact database: %v", err)
	}
	stats, _ := st.Stats()
	used := int(stats.DBSize) // the pages in use; the file may be longer
	st.Close()
	good, _ := os.ReadFile(path)
	if used < 8*4096 {
		t.Fatalf("database of %d bytes in use: too small to damage in the middle", used)
	}

	for name, damage := range map[string]func([]byte) []byte{
		"truncated to 4 pages": func(b []byte) []byte { return b[:4*4096] },
		"truncated mid-page":   func(b []byte) []byte { return b[:used-4096-100] },
		"garbage":              func(b []byte) []byte { return []byte("this is not a database, not at all, but long enough") },
	} {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(path, damage(append([]byte(nil), good...)), 0o600)
			st, err := store.Open(path, store.Options{})
			if err == nil {
				st.Close()
				t.Fatal("opened")
			}
			if name != "garbage" && !errors.Is(err, store.ErrDamaged) {
				t.Fatalf("err = %v, want ErrDamaged", err)
			}
		})
	}

	// Pages overwritten in the middle: found at open or by CheckPages (what
	// fsck runs), as an error.
	// (Every page in use past the meta pages gets a bad header: which of
	// them the tree uses varies from run to run.)
	b := append([]byte(nil), good...)
	for page := 2; page < used/4096; page++ {
		for i := page * 4096; i < page*4096+16; i++ {
			b[i] ^= 0x5a
		}
	}
	os.WriteFile(path, b, 0o600)
	st, err = store.Open(path, store.Options{})
	if err != nil {
		if !errors.Is(err, store.ErrDamaged) {
			t.Fatalf("open: %v", err)
		}
		return // found at open already
	}
	defer st.Close()
	if err := st.CheckPages(); !errors.Is(err, store.ErrDamaged) {
		t.Fatalf("CheckPages on a damaged page: %v", err)
	}
}
