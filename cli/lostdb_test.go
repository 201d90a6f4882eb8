package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hangar/backup"
	"hangar/blob"
	"hangar/depot"
	"hangar/store"
)

// runHangar runs a subcommand in-process with a config for dataDir and
// returns its exit code and what it printed.
func runHangar(t *testing.T, dataDir string, args ...string) (int, string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, "listen = \"127.0.0.1:0\"\ndata_dir = %q\n", dataDir), 0o600)
	var out bytes.Buffer
	full := append([]string{args[0], "-config", cfg}, args[1:]...)
	code := Run(context.Background(), full, strings.NewReader(""), &out, &out)
	return code, out.String()
}

// putBlobs stores n distinct blobs in dataDir's blob directory.
func putBlobs(t *testing.T, dataDir string, n int) {
	t.Helper()
	bs, err := blob.Open(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := bs.Put(strings.NewReader(fmt.Sprint("blob ", i)), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A missing or empty hangar.db beside stored blobs is a lost database, not
// a new instance: serve and fsck refuse it and say how to recover; serve
// leaves no new hangar.db behind.
func TestLostDatabaseRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	putBlobs(t, data, 3)
	db := filepath.Join(data, "hangar.db")

	for _, state := range []string{"missing", "empty"} {
		if state == "empty" {
			os.WriteFile(db, nil, 0o600)
		}
		code, out := runHangar(t, data, "serve")
		if code == 0 || !strings.Contains(out, "restore the database from a backup") || strings.Contains(out, "First start") {
			t.Fatalf("serve with the database %s: exit %d, %s", state, code, out)
		}
		if _, err := os.Stat(db); state == "missing" && err == nil {
			t.Fatal("serve created a new hangar.db beside the blobs")
		}
		code, out = runHangar(t, data, "fsck", "-repair")
		if code == 0 || !strings.Contains(out, "the database has no file but the blob directory has blobs") {
			t.Fatalf("fsck with the database %s: exit %d, %s", state, code, out)
		}
	}
	// The blobs are all still there; -force runs fsck anyway (reporting,
	// not removing, without -repair).
	code, out := runHangar(t, data, "fsck", "-force")
	if code != 0 || !strings.Contains(out, "orphan blob") {
		t.Fatalf("fsck -force: exit %d, %s", code, out)
	}
	n := 0
	bs, _ := blob.Open(filepath.Join(data, "blobs"))
	bs.Walk(func(blob.Ref, int64) error { n++; return nil })
	if n != 3 {
		t.Fatalf("%d blobs left of 3", n)
	}
}

// fsck -repair removes a few orphans (what a crash leaves) but not most
// of the blobs without -force.
func TestRepairBoundsOrphanRemoval(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	// A workspace with one file, and 20 orphans beside its blob.
	st, err := store.Open(filepath.Join(data, "hangar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := blob.Open(filepath.Join(data, "blobs"))
	info, _ := bs.Put(strings.NewReader("kept"), 0, nil)
	ws, _ := st.CreateWorkspace(store.Workspace{Slug: "acme"})
	p, _ := st.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "app"})
	b, _ := st.CreateBuild(store.Build{ProjectID: p.ID, Status: store.BuildProcessed})
	if _, err := st.AddFile(store.File{BuildID: b.ID, Name: "kept.zip", Size: info.Size, Checksum: info.Ref.String()}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	putBlobs(t, data, 20)

	code, out := runHangar(t, data, "fsck", "-repair")
	if code == 0 || !strings.Contains(out, "20 of 21 blobs are orphans: not removed without -force") {
		t.Fatalf("fsck -repair with 20 orphans of 21: exit %d, %s", code, out)
	}
	code, out = runHangar(t, data, "fsck", "-repair", "-force")
	if code != 0 || strings.Count(out, "orphan (repaired)") != 20 {
		t.Fatalf("fsck -repair -force: exit %d, %s", code, out)
	}
	if code, out := runHangar(t, data, "fsck"); code != 0 {
		t.Fatalf("fsck after the repair: exit %d, %s", code, out)
	}
}

// Restoring a backup whose database is empty fails: it is no backup of
// the data anybody wants.
func TestRestoreEmptyBackupRefused(t *testing.T) {
	src := t.TempDir()
	st, err := store.Open(filepath.Join(src, "hangar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := blob.Open(filepath.Join(src, "blobs"))
	var buf bytes.Buffer
	if err := backup.Write(&buf, depot.New(st, bs, depot.Options{})); err != nil {
		t.Fatal(err)
	}
	st.Close()
	file := filepath.Join(t.TempDir(), "empty.tar")
	os.WriteFile(file, buf.Bytes(), 0o600)
	var out bytes.Buffer
	code := Run(context.Background(), []string{"restore", "-data", filepath.Join(t.TempDir(), "restored"), file}, nil, &out, io.MultiWriter(&out))
	if code == 0 || !strings.Contains(out.String(), "the backup's database is empty") {
		t.Fatalf("restore of an empty backup: exit %d, %s", code, out.String())
	}
}
