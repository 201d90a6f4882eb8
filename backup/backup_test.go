package backup_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hangar/backup"
	"hangar/blob"
	"hangar/depot"
	"hangar/fsck"
	"hangar/store"
)

// source is a data directory with a workspace and two files (one blob
// shared by two files, one of its own).
func source(t *testing.T) (*depot.Depot, []store.File) {
	t.Helper()
	d, err := depot.Open(t.TempDir(), depot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	st := d.Store()
	ws, _ := st.CreateWorkspace(store.Workspace{Slug: "acme"})
	p, _ := st.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "app"})
	b, _ := st.CreateBuild(store.Build{ProjectID: p.ID, Status: store.BuildProcessed})
	var files []store.File
	for _, c := range []struct{ name, content string }{{"a.zip", "shared"}, {"b.zip", "shared"}, {"c.zip", "own"}} {
		f, err := d.AddFile(depot.NewFile{BuildID: b.ID, Type: store.FileAttachment, Name: c.name}, strings.NewReader(c.content))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return d, files
}

func entries(t *testing.T, archive []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

// A backup holds the database first, then each referenced blob once; it
// restores into a data directory that fsck finds clean, with the same files.
func TestRoundTrip(t *testing.T) {
	d, files := source(t)
	var buf bytes.Buffer
	if err := backup.Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	names := entries(t, buf.Bytes())
	if len(names) != 3 || names[0] != "hangar.db" || !strings.HasPrefix(names[1], "blobs/") {
		t.Fatalf("entries %v: want hangar.db and two blobs", names)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	rep, err := backup.Restore(bytes.NewReader(buf.Bytes()), dir)
	if err != nil || rep.Blobs != 2 || len(rep.Mismatches) != 0 {
		t.Fatalf("restore: %+v, %v", rep, err)
	}
	r, err := depot.Open(dir, depot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fr, err := fsck.Run(r, fsck.Options{Verify: true})
	if err != nil || len(fr.Findings) != 0 || fr.Files != 3 || fr.Blobs != 2 {
		t.Fatalf("fsck of the restored directory: %+v, %v", fr, err)
	}
	for _, f := range files {
		fh, err := r.OpenFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(fh)
		fh.Close()
		if want := map[string]string{"a.zip": "shared", "b.zip": "shared", "c.zip": "own"}[f.Name]; string(got) != want {
			t.Errorf("%s: %q, want %q", f.Name, got, want)
		}
	}
}

// Restore refuses a directory that is not empty, entries that are neither
// the database nor a blob path, and an archive without a database; a blob
// whose bytes do not hash to its name is reported and left out.
func TestRestoreRefuses(t *testing.T) {
	d, _ := source(t)
	var buf bytes.Buffer
	if err := backup.Write(&buf, d); err != nil {
		t.Fatal(err)
	}

	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	if _, err := backup.Restore(bytes.NewReader(buf.Bytes()), full); !errors.Is(err, backup.ErrNotEmpty) {
		t.Errorf("restore into a directory with a file: %v, want ErrNotEmpty", err)
	}

	tarOf := func(entries ...[2]string) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range entries {
			tw.WriteHeader(&tar.Header{Name: e[0], Mode: 0o600, Size: int64(len(e[1])), Typeflag: tar.TypeReg})
			tw.Write([]byte(e[1]))
		}
		tw.Close()
		return b.Bytes()
	}
	for name, archive := range map[string][]byte{
		"a path outside":  tarOf([2]string{"../etc/passwd", "x"}),
		"not a blob path": tarOf([2]string{"blobs/notahash", "x"}),
		"no database":     tarOf(),
	} {
		if _, err := backup.Restore(bytes.NewReader(archive), filepath.Join(t.TempDir(), "d")); err == nil {
			t.Errorf("%s: restored", name)
		}
	}

	// The first blob's bytes replaced by others of the same length.
	var damaged bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(buf.Bytes())), tar.NewWriter(&damaged)
	first := ""
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		data, _ := io.ReadAll(tr)
		if strings.HasPrefix(hdr.Name, "blobs/") && first == "" {
			first = filepath.Base(hdr.Name)
			data = bytes.Repeat([]byte("z"), len(data))
		}
		tw.WriteHeader(hdr)
		tw.Write(data)
	}
	tw.Close()
	rep, err := backup.Restore(bytes.NewReader(damaged.Bytes()), filepath.Join(t.TempDir(), "d"))
	if err != nil || rep.Blobs != 1 || len(rep.Mismatches) != 1 || rep.Mismatches[0] != first {
		t.Fatalf("restore of a damaged blob: %+v, %v; want 1 blob and %s reported", rep, err, first)
	}
}

// While a backup runs, a blob that loses its last reference stays until
// the backup has copied it: the archive is complete.
func TestWriteHoldsRemovals(t *testing.T) {
	d, files := source(t)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- backup.Write(pw, d); pw.Close() }()
	// Read the database entry's header only (the snapshot was taken
	// before it was sent: the writer blocked on this reader holds no
	// transaction), then delete the file with its own blob: the removal
	// must wait for the backup.
	tr := tar.NewReader(pr)
	if hdr, err := tr.Next(); err != nil || hdr.Name != "hangar.db" {
		t.Fatalf("first entry: %v, %v", hdr, err)
	}
	if _, err := d.DeleteFile(store.System, files[2].ID); err != nil {
		t.Fatal(err)
	}
	ref, _ := blob.ParseRef(files[2].Checksum)
	if _, err := d.Blobs().Stat(ref); err != nil {
		t.Fatalf("the blob went during the backup: %v", err)
	}
	n := 1
	for {
		if _, err := tr.Next(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := <-done; err != nil || n != 3 {
		t.Fatalf("backup: %d entries, %v", n, err)
	}
	if _, err := d.Blobs().Stat(ref); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("after the backup the unused blob is still there: %v", err)
	}
}
