package depot_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hangar/blob"
	"hangar/config"
	"hangar/depot"
	"hangar/fsck"
	"hangar/hangartest"
	"hangar/pkginfo"
	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a data directory with a workspace and a project, its depot
// processing packages in the background.
type env struct {
	t     *testing.T
	d     *depot.Depot
	store *store.Store
	blobs *blob.Store
	ws    store.Workspace
	proj  store.Project
}

// newEnv opens a depot in a new directory; configure may change its
// options first. At the end of the test fsck -verify must find nothing.
func newEnv(t *testing.T, configure func(*depot.Options)) *env {
	t.Helper()
	o := depot.Options{Config: config.Default(), Logger: quiet}
	if configure != nil {
		configure(&o)
	}
	d, err := depot.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: d, store: d.Store(), blobs: d.Blobs()}
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := d.StartProcessing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		wait()
		rep, err := fsck.Run(d, fsck.Options{Verify: true})
		if err != nil {
			t.Errorf("fsck after the test: %v", err)
		}
		for _, f := range rep.Findings {
			t.Errorf("fsck after the test: %s", f.Message)
		}
		d.Close()
	})
	if e.ws, err = e.store.CreateWorkspace(store.Workspace{Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	if e.proj, err = e.store.CreateProject(store.Project{WorkspaceID: e.ws.ID, Slug: "app"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// upload makes a build whose package is content, as the API's upload does.
func (e *env) upload(name, content string) store.Build {
	e.t.Helper()
	b, _, err := e.d.NewBuild(e.proj.ID, "test", func(id string) (depot.BuildMeta, []store.File, error) {
		f, err := e.d.AddFile(depot.NewFile{BuildID: id, Type: store.FilePackage, Name: name, Extension: strings.TrimPrefix(filepath.Ext(name), ".")}, strings.NewReader(content))
		return depot.BuildMeta{}, []store.File{f}, err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// waitProcessed waits for the workers to finish a build and returns it.
func (e *env) waitProcessed(id string) store.Build {
	e.t.Helper()
	return hangartest.WaitProcessed(e.t, e.store, id)
}

func demoIPA() string { return string(pkgtest.IPA(pkgtest.DemoApp)) }

// A build left in_progress (a crash, a shutdown mid-queue) is processed by
// the next depot to start.
func TestProcessingResumesAfterRestart(t *testing.T) {
	e := newEnv(t, nil)
	// A build stored in_progress that no worker of e's server was told
	// about: what a restart finds.
	ipa := demoIPA()
	info, err := e.blobs.Put(strings.NewReader(ipa), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.store.CreateBuild(store.Build{ProjectID: e.proj.ID, Status: store.BuildInProgress})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AddFile(store.File{BuildID: b.ID, Type: store.FilePackage, Name: "Demo.ipa", Extension: "ipa",
		Size: info.Size, Checksum: info.Ref.String()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got, _ := e.store.Build(b.ID); got.Status != store.BuildInProgress {
		t.Fatalf("processed without being queued: %s", got.Status)
	}

	restarted := depot.New(e.store, e.blobs, depot.Options{Config: config.Default(), Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := restarted.StartProcessing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); wait() }()
	if got := e.waitProcessed(b.ID); got.Status != store.BuildProcessed || got.BundleID != "com.example.demo" {
		t.Fatalf("after restart: %+v", got)
	}
}

// Deleting the package of a build still waiting for a worker ends the
// build in error rather than leaving it in_progress for ever.
func TestProcessDeletedPackage(t *testing.T) {
	e := newEnv(t, nil)
	info, err := e.blobs.Put(strings.NewReader(demoIPA()), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.store.CreateBuild(store.Build{ProjectID: e.proj.ID, Status: store.BuildInProgress})
	f, err := e.store.AddFile(store.File{BuildID: b.ID, Type: store.FilePackage, Name: "Demo.ipa", Extension: "ipa",
		Size: info.Size, Checksum: info.Ref.String()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.DeleteFile(store.System, f.ID); err != nil {
		t.Fatal(err)
	}
	e.d.Enqueue(b.ID)
	if got := e.waitProcessed(b.ID); got.Status != store.BuildError || !strings.Contains(got.ProcessingError, "deleted") {
		t.Fatalf("build: %+v", got)
	}
}

// A package whose reading never ends (a parser stuck on a crafted file)
// ends in error after the timeout, and the one worker goes on to the next
// build.
func TestProcessStuckReaderAbandoned(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	e := newEnv(t, func(o *depot.Options) {
		o.Config.ProcessingWorkers = 1
		o.ReadTimeout = 200 * time.Millisecond
		o.ReadPackage = func(name string) (pkginfo.Info, error) {
			if name == "stuck.ipa" {
				<-release
			}
			return pkginfo.Info{OS: "ios", BundleID: "com.example." + strings.TrimSuffix(name, ".ipa")}, nil
		}
	})
	stuck := e.upload("stuck.ipa", "x")
	next := e.upload("next.ipa", "y")
	if b := e.waitProcessed(stuck.ID); b.Status != store.BuildError || !strings.Contains(b.ProcessingError, "took longer than 200ms") {
		t.Fatalf("stuck build: %+v", b)
	}
	if b := e.waitProcessed(next.ID); b.Status != store.BuildProcessed || b.BundleID != "com.example.next" {
		t.Fatalf("the build behind it: %+v", b)
	}
}

// An icon that cannot be written (here: the blob directory's temp folder
// is gone, as on a broken or full disk) does not leave the build
// in_progress: it is processed without the icon, and says so.
func TestProcessIconNotStored(t *testing.T) {
	var tmp string // set before the upload that makes the reader run
	e := newEnv(t, func(o *depot.Options) {
		o.ReadPackage = func(name string) (pkginfo.Info, error) {
			// After the upload, before the icon: break the temp folder (a
			// file where a directory should be fails even for root).
			if err := os.RemoveAll(tmp); err != nil {
				return pkginfo.Info{}, err
			}
			os.WriteFile(tmp, nil, 0o600)
			return pkginfo.Info{OS: "ios", BundleID: "com.example.demo", Icon: &pkginfo.Icon{Data: []byte("png"), MimeType: "image/png"}}, nil
		}
	})
	tmp = filepath.Join(e.blobs.Dir(), "tmp")
	b := e.upload("Demo.ipa", "x")
	got := e.waitProcessed(b.ID)
	os.Remove(tmp)
	os.Mkdir(tmp, 0o750)
	files, _ := e.store.Files(b.ID)
	if got.Status != store.BuildProcessed || got.BundleID != "com.example.demo" || len(files) != 1 ||
		!slices.Contains(got.ProcessingNotes, "the icon could not be stored") {
		t.Fatalf("build %+v, %d files", got, len(files))
	}
}

// A build whose reading was started twice without finishing (the process
// died during each: a package that crashes the server) ends in error at
// the next start instead of crashing it again. One unfinished attempt is
// retried.
func TestProcessingNotRetriedAfterTwoCrashes(t *testing.T) {
	e := newEnv(t, nil)
	queued := func(attempts int) string {
		info, err := e.blobs.Put(strings.NewReader(demoIPA()), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.store.CreateBuild(store.Build{ProjectID: e.proj.ID, Status: store.BuildInProgress})
		if _, err := e.store.AddFile(store.File{BuildID: b.ID, Type: store.FilePackage, Name: "Demo.ipa", Extension: "ipa",
			Size: info.Size, Checksum: info.Ref.String()}); err != nil {
			t.Fatal(err)
		}
		for range attempts {
			if _, err := e.store.BeginProcessing(b.ID); err != nil {
				t.Fatal(err)
			}
		}
		return b.ID
	}
	once, twice := queued(1), queued(2)
	// Editing a queued build does not reset its count.
	if _, err := e.store.UpdateBuild(twice, func(b *store.Build) error { b.Notes = "edited"; return nil }); err != nil {
		t.Fatal(err)
	}
	e.d.Enqueue(once)
	e.d.Enqueue(twice)
	if got := e.waitProcessed(once); got.Status != store.BuildProcessed {
		t.Errorf("after one crash: %+v, want processed", got)
	}
	got := e.waitProcessed(twice)
	if got.Status != store.BuildError || !strings.Contains(got.ProcessingError, "processing did not finish twice") {
		t.Errorf("after two crashes: %+v, want error", got)
	}
	if q, _ := e.store.ProcessingQueue(); len(q) != 0 {
		t.Fatalf("queue: %v", q)
	}
}
