package server_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hangar/config"
	"hangar/depot"
	"hangar/pkginfo"
	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

type processedBuild struct {
	Status, Version, BuildNumber, OS, AppName, BundleID, PackageName, MinOS, TargetSDK, ProcessingError string
	ProcessingNotes                                                                                     []string
	ProvisioningProfile                                                                                 *struct {
		Name, Team, TeamID, Type string
		Expires                  time.Time
		Devices                  int
	}
	Files []struct{ FileID, Name, Type, Checksum string }
}

func TestProcessIPA(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"notes", "", "first"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	var got processedBuild
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &got)
	if got.Status != "processed" || got.Version != "2.4.1" || got.BuildNumber != "241" || got.OS != "ios" ||
		got.AppName != "Demo App" || got.BundleID != "com.example.demo" || got.PackageName != "" || got.MinOS != "15.0" ||
		got.ProcessingError != "" || len(got.ProcessingNotes) != 0 {
		t.Fatalf("processed IPA: %+v", got)
	}
	p := got.ProvisioningProfile
	if p == nil || p.Name != "Demo Ad Hoc" || p.Team != "Example Corp" || p.TeamID != "ABCDE12345" || p.Type != "ad-hoc" ||
		p.Devices != 3 || !p.Expires.Equal(pkgtest.ProfileExpires) {
		t.Fatalf("profile: %+v", p)
	}
	// The icon is a file of type icon: the CgBI @3x icon, now a PNG a
	// browser shows.
	if len(got.Files) != 2 || got.Files[1].Type != "icon" || got.Files[1].Name != "icon.png" {
		t.Fatalf("files: %+v", got.Files)
	}
	code, u := e.send("GET", projPath+"/build/file/"+got.Files[1].FileID, admin, "", nil)
	if code != 200 {
		t.Fatalf("icon URL: %d %s", code, u)
	}
	r, data := do(t, "GET", string(u), nil)
	wantCode(t, r, data, 200)
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() != 12 || img.Bounds().Dy() != 9 {
		t.Fatalf("icon: %v %v", img, err)
	}
}

// Broken packages end in error with a reason; they hold up neither the
// server nor the builds queued behind them.
func TestProcessBrokenPackages(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.ProcessingWorkers = 1 })
	admin := e.adminToken()
	bomb := pkgtest.Zip(pkgtest.Entry{Name: "AndroidManifest.xml", Data: make([]byte, 64<<20)})
	cases := []struct {
		name, data, reason string
	}{
		{"bomb.apk", string(bomb), "bomb.apk: AndroidManifest.xml is 67108864 bytes, more than the 4194304 allowed"},
		{"text.aab", "just text", "text.aab: not a readable zip archive"},
		{"empty.ipa", string(pkgtest.Zip()), "empty.ipa: no Payload/<name>.app/Info.plist: not an iOS app archive"},
		{"good.apk", helloAPK(t), ""},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = e.upload(admin, part{"file", c.name, c.data}).BuildID
	}
	for i, c := range cases {
		b := e.waitProcessed(ids[i])
		if c.reason == "" {
			if b.Status != store.BuildProcessed || b.AppName != "HelloWorld" {
				t.Errorf("%s: %+v", c.name, b)
			}
			continue
		}
		if b.Status != store.BuildError || !strings.HasPrefix(b.ProcessingError, c.reason) {
			t.Errorf("%s: status %s, error %q; want error %q", c.name, b.Status, b.ProcessingError, c.reason)
		}
	}
	// The server kept answering meanwhile, and nothing is left queued.
	if q, _ := e.store.ProcessingQueue(); len(q) != 0 {
		t.Fatalf("queue: %v", q)
	}
}

// Files that are not packages are processed at once, with what their
// extension tells.
func TestProcessGenericBuilds(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for name, os := range map[string]string{"Installer.dmg": "macos", "setup.exe": "windows", "App.dSYM.zip": ""} {
		b := e.upload(admin, part{"file", name, "bytes"})
		var got processedBuild
		e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &got)
		if b.Status != "processed" || got.OS != os || len(got.Files) != 1 {
			t.Errorf("%s: status %s, os %q (want %q), files %d", name, b.Status, got.OS, os, len(got.Files))
		}
	}
}

// A build left in_progress (a crash, a shutdown mid-queue) is processed by
// the next server to start.
func TestProcessingResumesAfterRestart(t *testing.T) {
	e := newEnv(t)
	// A build stored in_progress that no worker of e's server was told
	// about: what a restart finds.
	ipa := demoIPA()
	info, err := e.blobs.Put(strings.NewReader(ipa), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.store.CreateBuild(store.Build{ProjectID: e.build.ProjectID, Status: store.BuildInProgress})
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

	restarted := depot.New(e.store, e.blobs, depot.Options{Config: config.Default(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	e := newEnv(t)
	info, err := e.blobs.Put(strings.NewReader(demoIPA()), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.store.CreateBuild(store.Build{ProjectID: e.build.ProjectID, Status: store.BuildInProgress})
	f, err := e.store.AddFile(store.File{BuildID: b.ID, Type: store.FilePackage, Name: "Demo.ipa", Extension: "ipa",
		Size: info.Size, Checksum: info.Ref.String()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.depot.DeleteFile(f.ID); err != nil {
		t.Fatal(err)
	}
	e.depot.Enqueue(b.ID)
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
	e := newEnvReading(t, func(c *config.Config) { c.ProcessingWorkers = 1 }, func(name string) (pkginfo.Info, error) {
		if name == "stuck.ipa" {
			<-release
		}
		return pkginfo.Info{OS: "ios", BundleID: "com.example." + strings.TrimSuffix(name, ".ipa")}, nil
	}, 200*time.Millisecond)
	admin := e.adminToken()
	stuck := e.upload(admin, part{"file", "stuck.ipa", "x"})
	next := e.upload(admin, part{"file", "next.ipa", "y"})
	if b := e.waitProcessed(stuck.BuildID); b.Status != store.BuildError || !strings.Contains(b.ProcessingError, "took longer than 200ms") {
		t.Fatalf("stuck build: %+v", b)
	}
	if b := e.waitProcessed(next.BuildID); b.Status != store.BuildProcessed || b.BundleID != "com.example.next" {
		t.Fatalf("the build behind it: %+v", b)
	}
}

// An icon that cannot be written (here: the blob directory's temp folder
// is gone, as on a broken or full disk) does not leave the build
// in_progress: it is processed without the icon, and says so.
func TestProcessIconNotStored(t *testing.T) {
	var tmp string // set before the upload that makes the reader run
	e := newEnvReading(t, nil, func(name string) (pkginfo.Info, error) {
		// After the upload, before the icon: break the temp folder (a file
		// where a directory should be fails even for root).
		if err := os.RemoveAll(tmp); err != nil {
			return pkginfo.Info{}, err
		}
		os.WriteFile(tmp, nil, 0o600)
		return pkginfo.Info{OS: "ios", BundleID: "com.example.demo", Icon: &pkginfo.Icon{Data: []byte("png"), MimeType: "image/png"}}, nil
	}, time.Minute)
	tmp = filepath.Join(e.blobs.Dir(), "tmp")
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "Demo.ipa", "x"})
	got := e.waitProcessed(b.BuildID)
	os.Remove(tmp)
	os.Mkdir(tmp, 0o750)
	files, _ := e.store.Files(b.BuildID)
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
	e := newEnv(t)
	queued := func(attempts int) string {
		info, err := e.blobs.Put(strings.NewReader(demoIPA()), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.store.CreateBuild(store.Build{ProjectID: e.build.ProjectID, Status: store.BuildInProgress})
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
	e.depot.Enqueue(once)
	e.depot.Enqueue(twice)
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
