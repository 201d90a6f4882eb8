package depot_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hangar/blob"
	"hangar/depot"
	"hangar/hangartest"
	"hangar/store"
)

func (e *env) usage() int64 {
	e.t.Helper()
	ws, err := e.store.Workspace(e.ws.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ws.StorageUsed
}

func (e *env) blobCount() int {
	n := 0
	e.blobs.Walk(func(blob.Ref, int64) error { n++; return nil })
	return n
}

// A build whose fill fails after storing a file leaves no trace: no
// build, no file, no blob, storage unchanged.
func TestNewBuildUndo(t *testing.T) {
	e := newEnv(t, nil)
	var buildID string
	_, _, err := e.d.NewBuild(e.proj.ID, "test", func(id string) (depot.BuildMeta, []store.File, error) {
		buildID = id
		f, err := e.d.AddFile(depot.NewFile{BuildID: id, Type: store.FilePackage, Name: "a.zip"}, strings.NewReader("bytes"))
		if err != nil {
			t.Fatal(err)
		}
		return depot.BuildMeta{}, []store.File{f}, errors.New("the form broke off")
	})
	if err == nil || err.Error() != "the form broke off" {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.store.Build(buildID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the build stayed: %v", err)
	}
	if n, u := e.blobCount(), e.usage(); n != 0 || u != 0 {
		t.Fatalf("%d blobs and storageUsed %d after the undo", n, u)
	}
}

// A package Hangar reads is queued; anything else is processed at once,
// with the platform its extension names.
func TestNewBuildStatus(t *testing.T) {
	e := newEnv(t, nil)
	for name, want := range map[string]string{"App.dSYM.zip": "", "Installer.dmg": "macos", "setup.msi": "windows"} {
		if b := e.upload(name, "x"); b.Status != store.BuildProcessed || b.OS != want {
			t.Errorf("%s: %s, os %q; want processed, %q", name, b.Status, b.OS, want)
		}
	}
	b := e.upload("Demo.ipa", demoIPA())
	if b.Status != store.BuildInProgress {
		t.Fatalf("an IPA: %s, want in_progress", b.Status)
	}
	if got := e.waitProcessed(b.ID); got.Status != store.BuildProcessed || got.BundleID != "com.example.demo" {
		t.Fatalf("processed: %+v", got)
	}
}

// Identical content is stored once; its blob goes with the last file that
// uses it, and storageUsed counts every file.
func TestDeleteSharedBlob(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.upload("a.zip", "same"), e.upload("b.zip", "same")
	if n, u := e.blobCount(), e.usage(); n != 1 || u != 8 {
		t.Fatalf("%d blobs, storageUsed %d; want 1 and 8", n, u)
	}
	if err := e.d.DeleteBuild(store.System, a.ID); err != nil {
		t.Fatal(err)
	}
	if n, u := e.blobCount(), e.usage(); n != 1 || u != 4 {
		t.Fatalf("after one delete: %d blobs, storageUsed %d; want 1 and 4", n, u)
	}
	files, _ := e.store.Files(b.ID)
	if _, err := e.d.DeleteFile(store.System, files[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, u := e.blobCount(), e.usage(); n != 0 || u != 0 {
		t.Fatalf("after the last: %d blobs, storageUsed %d", n, u)
	}
	if _, err := e.d.DeleteFile(store.System, files[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting again: %v, want ErrNotFound", err)
	}
}

// Over max_upload_size or the workspace's quota, AddFile fails and keeps
// nothing.
func TestAddFileLimits(t *testing.T) {
	e := newEnv(t, func(o *depot.Options) { o.Config.MaxUploadSize = 10 })
	b := e.upload("a.zip", "0123456789")
	if _, err := e.d.AddFile(depot.NewFile{BuildID: b.ID, Type: store.FileAttachment, Name: "big"}, strings.NewReader("0123456789a")); !errors.Is(err, depot.ErrTooLarge) {
		t.Fatalf("over max_upload_size: %v", err)
	}
	if _, err := e.store.UpdateWorkspace(e.ws.ID, func(w *store.Workspace) error { w.StorageQuota = 15; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.AddFile(depot.NewFile{BuildID: b.ID, Type: store.FileAttachment, Name: "more"}, strings.NewReader("0123456789")); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("over the quota: %v", err)
	}
	if n, u := e.blobCount(), e.usage(); n != 1 || u != 10 {
		t.Fatalf("%d blobs, storageUsed %d after two refused files", n, u)
	}
}

// A blob cut short on disk is not opened as the file; the count says so.
func TestOpenFileDamaged(t *testing.T) {
	e := newEnv(t, nil)
	b := e.upload("a.zip", "the whole content")
	files, _ := e.store.Files(b.ID)
	f := files[0]
	ref, _ := blob.ParseRef(f.Checksum)
	os.WriteFile(e.blobs.Path(ref), []byte("the whole"), 0o600)
	if _, err := e.d.OpenFile(f); !errors.Is(err, depot.ErrDamaged) {
		t.Fatalf("open of a truncated blob: %v", err)
	}
	if n := e.d.Counters().DamagedRefused; n != 1 {
		t.Fatalf("DamagedRefused = %d", n)
	}
	// An identical upload repairs it (and the test ends with a clean fsck).
	e.upload("again.zip", "the whole content")
	if n := e.d.Counters().DamagedReplaced; n != 1 {
		t.Fatalf("DamagedReplaced = %d", n)
	}
	fh, err := e.d.OpenFile(f)
	if err != nil {
		t.Fatal(err)
	}
	fh.Close()
}

// Blobs beside a database with no file: Open refuses, and leaves no new
// database behind.
func TestOpenLostDatabase(t *testing.T) {
	dir := t.TempDir()
	bs, err := blob.Open(depot.BlobDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	bs.Put(strings.NewReader("orphaned"), 0, nil)
	if _, err := depot.Open(dir, depot.Options{Logger: quiet}); !errors.Is(err, depot.ErrDatabaseLost) {
		t.Fatalf("open: %v, want ErrDatabaseLost", err)
	}
	if _, err := os.Stat(depot.DBPath(dir)); err == nil {
		t.Fatal("Open left a new database beside the blobs")
	}
	d, err := depot.Open(dir, depot.Options{Logger: quiet, SkipDatabaseCheck: true})
	if err != nil {
		t.Fatalf("open for fsck: %v", err)
	}
	d.Close()
}

// A kill between a first upload's blob and its row leaves a database with
// a workspace but no file beside one blob: that database is not lost (it
// opens; the blob is an orphan for fsck). CI's crash test on a bucket found
// the start refused.
func TestOpenAfterKilledFirstUpload(t *testing.T) {
	dir := t.TempDir()
	d, err := depot.Open(dir, depot.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store().CreateWorkspace(store.Workspace{Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	d.Blobs().Put(strings.NewReader("uploaded, never recorded"), 0, nil)
	d.Close()
	d, err = depot.Open(dir, depot.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	d.Close()
}

// Retention keeps the newest builds a project allows and never touches a
// build still in progress; deleted builds take their blobs with them.
func TestRetentionKeepsNewest(t *testing.T) {
	now := time.Now()
	e := newEnv(t, func(o *depot.Options) {
		o.Config.KeepBuilds = 1
		o.Now = func() time.Time { return now }
	})
	queued, err := e.store.CreateBuild(store.Build{ProjectID: e.proj.ID, Status: store.BuildInProgress})
	if err != nil {
		t.Fatal(err)
	}
	var kept store.Build
	for i := range 3 {
		kept = e.upload("a.zip", strings.Repeat("x", i+1))
	}
	n, err := e.d.ApplyRetention()
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2", n, err)
	}
	left, _, _ := e.store.Builds(e.proj.ID, store.Page{})
	if len(left) != 2 || left[0].ID != kept.ID || left[1].ID != queued.ID {
		t.Fatalf("left %v; want the newest and the one in progress", left)
	}
	if n, u := e.blobCount(), e.usage(); n != 1 || u != 3 {
		t.Fatalf("%d blobs, storageUsed %d; want 1 and 3", n, u)
	}
	// The build in progress never finishes here: take it out so that the
	// test ends consistent.
	if err := e.d.DeleteBuild(store.System, queued.ID); err != nil {
		t.Fatal(err)
	}
}

// A CI job run again sends the same package under the same name: it is
// compared with the project's newest file of that name as it arrives and
// never written again; the same name with other bytes is stored.
func TestAddFileRerunIsNotWrittenAgain(t *testing.T) {
	e := newEnv(t, nil)
	content := strings.Repeat("package bytes ", 250_000) // 3.5 MB
	first := e.upload("app.apk", content)
	temps := func() int {
		entries, err := os.ReadDir(filepath.Join(e.blobs.Dir(), "tmp"))
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	add := func(body string, at func()) store.File {
		t.Helper()
		var f store.File
		_, _, err := e.d.NewBuild(e.proj.ID, "test", func(id string) (depot.BuildMeta, []store.File, error) {
			r := &hangartest.Midway{R: strings.NewReader(body), Half: len(body) / 2, At: at}
			var err error
			f, err = e.d.AddFile(depot.NewFile{BuildID: id, Type: store.FilePackage, Name: "app.apk", Extension: "apk", Size: -1}, r)
			if !r.Fired {
				t.Error("the body was not read")
			}
			return depot.BuildMeta{}, []store.File{f}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	again := add(content, func() {
		if n := temps(); n != 0 {
			t.Errorf("the same package sent again is being written: %d temporary files", n)
		}
	})
	files, err := e.store.Files(first.ID)
	if err != nil || again.Checksum != files[0].Checksum {
		t.Fatalf("rerun: %s, first %+v %v", again.Checksum, files, err)
	}
	// A new version differs early: written from there on.
	sawTemp := false
	early := add("X"+content[1:], func() { sawTemp = temps() > 0 })
	if early.Checksum == again.Checksum || !sawTemp {
		t.Fatalf("other bytes under the same name: %+v, written by half of the body: %v", early, sawTemp)
	}
	// One that differs in its last byte only is compared whole, then
	// stored whole.
	late := add(content[:len(content)-1]+"X", func() {})
	if late.Checksum == again.Checksum || late.Size != int64(len(content)) {
		t.Fatalf("the last byte differs: %+v", late)
	}
}
