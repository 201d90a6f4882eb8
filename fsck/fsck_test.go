package fsck_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"hangar/blob"
	"hangar/depot"
	"hangar/fsck"
	"hangar/store"
)

type env struct {
	st    *store.Store
	blobs *blob.Store
	build store.Build
	ws    store.Workspace
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hangar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := st.CreateWorkspace(store.Workspace{Slug: "acme"})
	p, _ := st.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "app"})
	b, _ := st.CreateBuild(store.Build{ProjectID: p.ID})
	return &env{st: st, blobs: blobs, build: b, ws: ws}
}

func (e *env) add(t *testing.T, name, content string) (store.File, blob.Ref) {
	var f store.File
	info, err := e.blobs.Put(strings.NewReader(content), 0, func(info blob.Info) error {
		var err error
		f, err = e.st.AddFile(store.File{BuildID: e.build.ID, Name: name, Size: info.Size, Checksum: info.Ref.String()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, info.Ref
}

func run(t *testing.T, e *env, o fsck.Options) (fsck.Report, string) {
	t.Helper()
	r, err := fsck.Run(depot.New(e.st, e.blobs, depot.Options{}), o)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, f := range r.Findings {
		msgs = append(msgs, f.Message)
	}
	return r, strings.Join(msgs, "\n")
}

func TestCleanStore(t *testing.T) {
	e := newEnv(t)
	e.add(t, "a.ipa", "aaa")
	e.add(t, "b.ipa", "aaa") // shared blob
	e.add(t, "c.ipa", "ccc")
	r, msgs := run(t, e, fsck.Options{Verify: true})
	if len(r.Findings) != 0 || r.Files != 3 || r.Blobs != 2 {
		t.Fatalf("clean store: %d files, %d blobs, findings:\n%s", r.Files, r.Blobs, msgs)
	}
}

func TestFindsAndRepairs(t *testing.T) {
	e := newEnv(t)
	_, missing := e.add(t, "missing.ipa", "will vanish")
	_, short := e.add(t, "short.ipa", "will be cut")
	_, flipped := e.add(t, "flipped.ipa", "will change")
	e.add(t, "fine.ipa", "fine")
	os.Remove(e.blobs.Path(missing))
	os.WriteFile(e.blobs.Path(short), []byte("cut"), 0o600)
	os.WriteFile(e.blobs.Path(flipped), []byte("will chang3"), 0o600) // same size
	orphan, _ := e.blobs.Put(bytes.NewReader([]byte("nobody's")), 0, nil)
	// Counters out of step with the rows.
	e.st.SetRefCounts(map[string]int64{missing.String(): 5})
	e.st.SetStorageUsed(map[string]int64{e.ws.ID: 1})

	r, msgs := run(t, e, fsck.Options{})
	for _, want := range []string{
		"missing.ipa): blob " + missing.String() + " is missing",
		"short.ipa): blob " + short.String() + " has 3 bytes",
		"orphan blob " + orphan.Ref.String(),
		"blob " + missing.String() + ": reference count 5, but 1 files use it",
		"workspace acme: storageUsed 1, but its files total",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing finding %q in:\n%s", want, msgs)
		}
	}
	if strings.Contains(msgs, "flipped") {
		t.Errorf("a same-size change is found only with Verify:\n%s", msgs)
	}
	if _, msgs := run(t, e, fsck.Options{Verify: true}); !strings.Contains(msgs, "flipped.ipa): blob "+flipped.String()+" has content with SHA-256") {
		t.Errorf("Verify did not find the changed content:\n%s", msgs)
	}
	problems := r.Problems()

	r, _ = run(t, e, fsck.Options{Repair: true})
	// Repair fixes counters and orphans, never files: the missing and cut
	// blobs stay problems.
	if r.Problems() != 2 || r.Problems() >= problems {
		t.Fatalf("after repair: %d problems (before %d), want 2", r.Problems(), problems)
	}
	if _, err := e.blobs.Stat(orphan.Ref); err == nil {
		t.Fatal("orphan blob not removed by repair")
	}
	if n, _ := e.st.BlobRefCount(missing.String()); n != 1 {
		t.Fatalf("repaired reference count: %d, want 1", n)
	}
	r, msgs = run(t, e, fsck.Options{})
	if r.Problems() != 2 || strings.Contains(msgs, "reference count") || strings.Contains(msgs, "orphan") {
		t.Fatalf("second run after repair:\n%s", msgs)
	}
}

func TestDanglingLinksAndTokens(t *testing.T) {
	e := newEnv(t)
	f, _ := e.add(t, "a.ipa", "a")
	e.add(t, "b.ipa", "b") // stays: a database with no file left would be a lost one
	l, _ := e.st.CreateLink(store.PublicLink{FileID: f.ID})
	p, _ := e.st.CreateProject(store.Project{WorkspaceID: e.ws.ID, Slug: "gone"})
	_, tok, _ := e.st.CreateToken(store.Token{Kind: store.TokenApp, OwnerID: p.ID})
	// Damage from outside the API: the file row and the project vanish
	// without their links and tokens being handled.
	path := e.st.Path()
	e.st.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		tx.Bucket([]byte("files")).Delete([]byte(f.ID))
		return tx.Bucket([]byte("projects")).Delete([]byte(p.ID))
	})
	db.Close()
	if e.st, err = store.Open(path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	defer e.st.Close()

	_, msgs := run(t, e, fsck.Options{})
	if !strings.Contains(msgs, "public link "+l.ID+" is active but its file is gone") ||
		!strings.Contains(msgs, "token "+tok.Prefix+" belongs to an owner that no longer exists") {
		t.Fatalf("findings:\n%s", msgs)
	}
	run(t, e, fsck.Options{Repair: true})
	r, msgs := run(t, e, fsck.Options{})
	if strings.Contains(msgs, "public link") || strings.Contains(msgs, "token ") {
		t.Fatalf("after repair:\n%s (%d problems)", msgs, r.Problems())
	}
}

// The monitoring totals are checked against the data, and -repair sets
// them from it.
func TestCounters(t *testing.T) {
	e := newEnv(t)
	f, _ := e.add(t, "a.ipa", "a")
	if _, err := e.st.CreateLink(store.PublicLink{FileID: f.ID}); err != nil {
		t.Fatal(err)
	}
	path := e.st.Path()
	e.st.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("count/links_active"), []byte{0, 0, 0, 0, 0, 0, 0, 7})
	})
	db.Close()
	if e.st, err = store.Open(path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	defer e.st.Close()
	if r, msgs := run(t, e, fsck.Options{}); r.Problems() != 1 || !strings.Contains(msgs, "monitoring totals") {
		t.Fatalf("findings:\n%s", msgs)
	}
	run(t, e, fsck.Options{Repair: true})
	if r, msgs := run(t, e, fsck.Options{}); len(r.Findings) != 0 {
		t.Fatalf("after repair:\n%s", msgs)
	}
	if st, _ := e.st.Stats(); st.ActiveLinks != 1 {
		t.Fatalf("active links after repair: %d", st.ActiveLinks)
	}
}

// The checksum index, through which fsck reads the files a shard at a
// time, is itself checked: an entry naming no file and a file missing from
// it are found, and -repair rebuilds it before checking the counts.
func TestChecksumIndex(t *testing.T) {
	e := newEnv(t)
	f, ref := e.add(t, "a.ipa", "a")
	e.add(t, "b.ipa", "b")
	path := e.st.Path()
	e.st.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	bogus := strings.Repeat("0", 64) + "/nosuchfile"
	db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket([]byte("checksum_files"))
		if err := idx.Delete([]byte(ref.String() + "/" + f.ID)); err != nil {
			return err
		}
		return idx.Put([]byte(bogus), nil)
	})
	db.Close()
	if e.st, err = store.Open(path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	defer e.st.Close()
	r, msgs := run(t, e, fsck.Options{})
	if !strings.Contains(msgs, "checksum index entry "+bogus+" names no file") || !strings.Contains(msgs, "reference count 1, but 0 files use it") {
		t.Fatalf("findings:\n%s", msgs)
	}
	if r.Files != 1 {
		t.Fatalf("files seen through the damaged index: %d, want 1", r.Files)
	}
	r, msgs = run(t, e, fsck.Options{Repair: true})
	if r.Problems() != 0 || r.Files != 2 || strings.Contains(msgs, "reference count") || !strings.Contains(msgs, "checksum index") {
		t.Fatalf("repair: %d problems, %d files:\n%s", r.Problems(), r.Files, msgs)
	}
	if r, msgs := run(t, e, fsck.Options{}); len(r.Findings) != 0 {
		t.Fatalf("after repair:\n%s", msgs)
	}
	if n, _ := e.st.BlobRefCount(ref.String()); n != 1 {
		t.Fatalf("reference count after repair: %d", n)
	}
}

// A check inside a running server (Live) while commits land finds nothing
// wrong with a sound database: bbolt's page walk, which compared its
// snapshot with the live freelist and reported "reachable freed" pages,
// is left out there (and said so), and runs offline.
func TestLiveCheckDuringCommits(t *testing.T) {
	e := newEnv(t)
	e.add(t, "a.ipa", "a")
	stop, done := make(chan struct{}), make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			b, err := e.st.CreateBuild(store.Build{ProjectID: e.build.ProjectID, Notes: strings.Repeat("n", 2000)})
			if err == nil {
				_, _, err = e.st.DeleteBuild(b.ID)
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	for range 5 {
		r, msgs := run(t, e, fsck.Options{Live: true})
		if r.PagesChecked || len(r.Findings) != 0 {
			t.Errorf("live check: pages checked %v, findings:\n%s", r.PagesChecked, msgs)
			break
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r, _ := run(t, e, fsck.Options{}); !r.PagesChecked {
		t.Fatal("an offline check did not walk the pages")
	}
}
