package store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hangar/hangartest"
	"hangar/store"
)

func mustOpen(tb testing.TB) *store.Store { return openTest(tb, store.Options{}) }

// openTest opens a new database for one test; at cleanup it audits it as
// fsck does (maintained counts against a recount, the counted build index,
// the checksum index, links whose file is gone, tokens whose owner is
// gone) and fails the test on any finding, then closes it. After bbolt's
// btesting: every test's database is checked by the one constructor tests
// use.
func openTest(tb testing.TB, opts store.Options) *store.Store {
	tb.Helper()
	s, err := store.Open(filepath.Join(tb.TempDir(), "hangar.db"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		defer s.Close()
		a, err := s.Audit()
		switch {
		case err != nil:
			tb.Errorf("audit at cleanup: %v", err)
		case a.Counts != a.CountsFound:
			tb.Errorf("audit at cleanup: counts %+v, recounted %+v", a.Counts, a.CountsFound)
		case a.BuildCountsWrong:
			tb.Error("audit at cleanup: the counted build index disagrees with the builds")
		case a.Files != a.Indexed:
			tb.Errorf("audit at cleanup: %d files, %d in the checksum index", a.Files, a.Indexed)
		case len(a.DanglingLinks) > 0 || len(a.OrphanTokens) > 0:
			tb.Errorf("audit at cleanup: dangling links %v, orphan tokens %v", a.DanglingLinks, a.OrphanTokens)
		}
	})
	return s
}

func checksum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// fixture creates a workspace, a project and a build.
func fixture(tb testing.TB, s *store.Store, quota int64) (store.Workspace, store.Project, store.Build) {
	tb.Helper()
	ws, err := s.CreateWorkspace(store.Workspace{Slug: "acme", Name: "Acme", StorageQuota: quota})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := s.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "ios-app", Name: "iOS", Platform: "ios"})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := s.CreateBuild(store.Build{ProjectID: p.ID})
	if err != nil {
		tb.Fatal(err)
	}
	return ws, p, b
}

func TestWorkspaceAndProjectSlugs(t *testing.T) {
	s := mustOpen(t)
	ws, p, _ := fixture(t, s, 0)
	if _, err := s.CreateWorkspace(store.Workspace{Slug: "acme"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate workspace slug: got %v, want ErrConflict", err)
	}
	if _, err := s.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "ios-app"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate project slug: got %v, want ErrConflict", err)
	}
	// The same project slug in another workspace is fine.
	other, err := s.CreateWorkspace(store.Workspace{Slug: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProject(store.Project{WorkspaceID: other.ID, Slug: "ios-app"}); err != nil {
		t.Fatalf("same slug in another workspace: %v", err)
	}
	if _, err := s.CreateProject(store.Project{WorkspaceID: "nope", Slug: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("project in missing workspace: got %v, want ErrNotFound", err)
	}
	for _, slug := range []string{"", "A", "a/b", "-a", "a-", "a b", "../x", strings.Repeat("a", 64)} {
		if _, err := s.CreateWorkspace(store.Workspace{Slug: slug}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("slug %q: got %v, want ErrInvalid", slug, err)
		}
	}
	got, err := s.ProjectBySlug(ws.ID, "ios-app")
	if err != nil || got.ID != p.ID {
		t.Fatalf("ProjectBySlug: got %+v, %v; want %s", got, err, p.ID)
	}
	if _, err := s.WorkspaceBySlug("missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing workspace: got %v, want ErrNotFound", err)
	}
	all, _ := s.Workspaces()
	if len(all) != 2 || all[0].Slug != "acme" || all[1].Slug != "other" {
		t.Fatalf("Workspaces: got %+v", all)
	}
	ps, _ := s.Projects(ws.ID)
	if len(ps) != 1 || ps[0].ID != p.ID {
		t.Fatalf("Projects: got %+v", ps)
	}
}

func TestBuildsNewestFirst(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, store.Options{Now: func() time.Time {
		clock = clock.Add(time.Second)
		return clock
	}})
	_, p, first := fixture(t, s, 0)
	var ids []string
	for i := 0; i < 5; i++ {
		b, err := s.CreateBuild(store.Build{ProjectID: p.ID, VersionName: "1.0"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	// A build of another project must not appear.
	p2, _ := s.CreateProject(store.Project{WorkspaceID: p.WorkspaceID, Slug: "android"})
	s.CreateBuild(store.Build{ProjectID: p2.ID})

	got, _, err := s.Builds(p.ID, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0], first.ID}
	if len(got) != len(want) {
		t.Fatalf("got %d builds, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i] {
			t.Fatalf("build %d: got %s, want %s", i, got[i].ID, want[i])
		}
	}
	page, _, _ := s.Builds(p.ID, store.Page{Offset: 2, Limit: 2})
	if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("page: got %+v", page)
	}
	if first.Status != store.BuildPending {
		t.Fatalf("status: got %q, want pending", first.Status)
	}
	upd, err := s.UpdateBuild(first.ID, func(b *store.Build) error { b.Status = store.BuildProcessed; b.ProjectID = "x"; return nil })
	if err != nil || upd.Status != store.BuildProcessed || upd.ProjectID != p.ID {
		t.Fatalf("UpdateBuild: got %+v, %v", upd, err)
	}
}

func TestFileRefCountsAndStorage(t *testing.T) {
	s := mustOpen(t)
	ws, _, b := fixture(t, s, 0)
	sum := checksum("shared")
	f1, err := s.AddFile(store.File{BuildID: b.ID, Name: "app.ipa", Size: 100, Checksum: sum})
	if err != nil {
		t.Fatal(err)
	}
	f2, err := s.AddFile(store.File{BuildID: b.ID, Name: "copy.ipa", Size: 100, Checksum: sum})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.BlobRefCount(sum); n != 2 {
		t.Fatalf("refs: got %d, want 2", n)
	}
	if w, _ := s.Workspace(ws.ID); w.StorageUsed != 200 {
		t.Fatalf("storageUsed: got %d, want 200", w.StorageUsed)
	}
	files, _ := s.Files(b.ID)
	if len(files) != 2 || files[0].ID != f1.ID || files[1].ID != f2.ID {
		t.Fatalf("Files: got %+v", files)
	}

	link, err := s.CreateLink(store.PublicLink{FileID: f1.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, last, err := s.DeleteFile(f1.ID)
	if err != nil || last {
		t.Fatalf("first delete: last=%v err=%v, want false, nil", last, err)
	}
	if l, err := s.Link(link.ID); err != nil || l.IsActive {
		t.Fatalf("link of deleted file: got %+v, %v; want it kept, inactive", l, err)
	}
	if _, err := s.UseLink(link.ID, "app.ipa", store.AccessLogEntry{Time: time.Now()}, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("using the link of a deleted file: got %v, want ErrNotFound", err)
	}
	if n, _ := s.BlobRefCount(sum); n != 1 {
		t.Fatalf("refs after one delete: got %d, want 1", n)
	}
	_, last, err = s.DeleteFile(f2.ID)
	if err != nil || !last {
		t.Fatalf("second delete: last=%v err=%v, want true, nil", last, err)
	}
	if used, _ := s.BlobInUse(sum); used {
		t.Fatal("blob still in use after both files deleted")
	}
	if w, _ := s.Workspace(ws.ID); w.StorageUsed != 0 {
		t.Fatalf("storageUsed: got %d, want 0", w.StorageUsed)
	}
	if _, _, err := s.DeleteFile(f2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete again: got %v, want ErrNotFound", err)
	}
}

func TestAddFileValidation(t *testing.T) {
	s := mustOpen(t)
	ws, _, b := fixture(t, s, 150)
	if _, err := s.AddFile(store.File{BuildID: "missing", Size: 1, Checksum: checksum("a")}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing build: got %v, want ErrNotFound", err)
	}
	for _, f := range []store.File{
		{BuildID: b.ID, Size: -1, Checksum: checksum("a")},
		{BuildID: b.ID, Size: 1, Checksum: "../../etc/passwd"},
		{BuildID: b.ID, Size: 1, Checksum: strings.ToUpper(checksum("a"))},
	} {
		if _, err := s.AddFile(f); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AddFile(%+v): got %v, want ErrInvalid", f, err)
		}
	}
	if _, err := s.AddFile(store.File{BuildID: b.ID, Size: 100, Checksum: checksum("a")}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AddFile(store.File{BuildID: b.ID, Size: 51, Checksum: checksum("b")})
	if !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("over quota: got %v, want ErrQuotaExceeded", err)
	}
	// The refused file left no trace.
	if n, _ := s.BlobRefCount(checksum("b")); n != 0 {
		t.Fatalf("refs of refused file: got %d, want 0", n)
	}
	if w, _ := s.Workspace(ws.ID); w.StorageUsed != 100 {
		t.Fatalf("storageUsed: got %d, want 100", w.StorageUsed)
	}
	if _, err := s.AddFile(store.File{BuildID: b.ID, Size: 50, Checksum: checksum("b")}); err != nil {
		t.Fatalf("exactly at quota: %v", err)
	}
}

func TestConcurrentAddDelete(t *testing.T) {
	s := mustOpen(t)
	ws, _, b := fixture(t, s, 0)
	sum := checksum("same")
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 10, Checksum: sum})
			if err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				if _, _, err := s.DeleteFile(f.ID); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := s.BlobRefCount(sum); n != 16 {
		t.Fatalf("refs: got %d, want 16", n)
	}
	if w, _ := s.Workspace(ws.ID); w.StorageUsed != 160 {
		t.Fatalf("storageUsed: got %d, want 160", w.StorageUsed)
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(); v != store.SchemaVersion {
		t.Fatalf("schema: got %d, want %d", v, store.SchemaVersion)
	}
	s.SetSchemaVersion(store.SchemaVersion + 1)
	s.Close()
	_, err = store.Open(path, store.Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("newer schema: got %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "upgrade hangar") {
		t.Fatalf("message does not say what to do: %v", err)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = store.Open(path, store.Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second open took %v", d)
	}
}

func TestTokens(t *testing.T) {
	clock := time.Now()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(path, store.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := s.Bootstrap("")
	if err != nil || !strings.HasPrefix(admin, "hgr_") || len(admin) < 4+8+1+43 {
		t.Fatalf("Bootstrap: got %q, %v", admin, err)
	}
	if again, err := s.Bootstrap(""); again != "" || err != nil {
		t.Fatalf("second Bootstrap: got %q, %v; want no new token", again, err)
	}
	tok, err := s.TokenByPlain(admin)
	if err != nil || tok.Kind != store.TokenServiceAccount {
		t.Fatalf("TokenByPlain(admin): got %+v, %v", tok, err)
	}
	sa, _ := s.ServiceAccount(tok.OwnerID)
	if !sa.Admin {
		t.Fatal("bootstrap account is not an instance admin")
	}

	u, err := s.CreateUser(store.User{Username: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	sess, st, err := s.CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, ExpiresAt: clock.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sess, "hgr_"+st.Prefix+"_") {
		t.Fatalf("token %q does not show its prefix %q", sess, st.Prefix)
	}
	if _, err := s.TokenByPlain(sess + "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tampered token: got %v, want ErrNotFound", err)
	}
	clock = clock.Add(2 * time.Hour)
	if _, err := s.TokenByPlain(sess); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("expired session: got %v, want ErrTokenExpired", err)
	}
	if _, _, err := s.CreateToken(store.Token{Kind: store.TokenApp, OwnerID: "missing"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("app token for missing project: got %v, want ErrNotFound", err)
	}

	list, _ := s.Tokens(tok.OwnerID)
	if len(list) != 1 || list[0].Prefix != tok.Prefix {
		t.Fatalf("Tokens: got %+v", list)
	}
	if err := s.RevokeToken(tok.OwnerID, tok.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByPlain(admin); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token: got %v, want ErrNotFound", err)
	}
	s.Close()

	// No plain token may be found anywhere in the database file.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{admin, sess} {
		secret := plain[len("hgr_")+8+1:] // hgr_, the visible prefix, _, the secret
		if len(secret) != 43 || bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("token secret stored in plain text")
		}
	}
}

func TestDownloadTokenSingleUse(t *testing.T) {
	s := mustOpen(t)
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 1, Checksum: checksum("a")})
	plain, _, err := s.CreateDownloadToken(f.ID, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var ok, expired atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t, err := s.RedeemDownloadToken(plain)
			switch {
			case err == nil && t.FileID == f.ID:
				ok.Add(1)
			case errors.Is(err, store.ErrTokenExpired):
				expired.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || expired.Load() != 31 {
		t.Fatalf("redeemed %d times, expired %d; want 1 and 31", ok.Load(), expired.Load())
	}
	old, _, _ := s.CreateDownloadToken(f.ID, time.Now().Add(-time.Second))
	if _, err := s.RedeemDownloadToken(old); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("expired token: got %v, want ErrTokenExpired", err)
	}
	if _, err := s.RedeemDownloadToken("hgr_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: got %v, want ErrNotFound", err)
	}
}

func TestSigningKeys(t *testing.T) {
	clock := time.Now()
	s := openTest(t, store.Options{Now: func() time.Time { return clock }})
	keys, err := s.SigningKeys()
	if err != nil || len(keys) != 1 || len(keys[0].Secret) != 32 {
		t.Fatalf("first start: got %+v, %v; want one 32-byte key", keys, err)
	}
	again, _ := s.SigningKeys()
	if len(again) != 1 || again[0].ID != keys[0].ID || !bytes.Equal(again[0].Secret, keys[0].Secret) {
		t.Fatal("keys changed between calls")
	}
	clock = clock.Add(time.Second) // key IDs are ordered by second
	nk, err := s.RotateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.SigningKeys()
	if len(after) != 2 || after[0].ID != nk.ID || after[1].ID != keys[0].ID {
		t.Fatalf("after rotation: got %v, want [%s %s]", after, nk.ID, keys[0].ID)
	}
}

func TestUseLink(t *testing.T) {
	s := mustOpen(t)
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "app.ipa", Size: 1, Checksum: checksum("a")})
	now := time.Now()
	at := func(d time.Duration) store.AccessLogEntry {
		return store.AccessLogEntry{Time: now.Add(d), ClientIP: "10.0.0.1"}
	}

	expiring, _ := s.CreateLink(store.PublicLink{FileID: f.ID, ExpirationDate: now.Add(time.Hour)})
	permanent, _ := s.CreateLink(store.PublicLink{FileID: f.ID, ExpirationDate: now.Add(-time.Hour), IsPermanent: true})
	inactive, _ := s.CreateLink(store.PublicLink{FileID: f.ID})
	s.DeactivateLink(inactive.ID)

	tests := []struct {
		name, id, file string
		at             time.Duration
		want           error
	}{
		{"valid", expiring.ID, "app.ipa", 0, nil},
		{"wrong file name", expiring.ID, "other.ipa", 0, store.ErrNotFound},
		{"expired", expiring.ID, "app.ipa", 2 * time.Hour, store.ErrNotFound},
		{"permanent ignores a past date", permanent.ID, "app.ipa", 0, nil},
		{"inactive", inactive.ID, "app.ipa", 0, store.ErrNotFound},
		{"unknown", "nope", "app.ipa", 0, store.ErrNotFound},
	}
	for _, tt := range tests {
		if _, err := s.UseLink(tt.id, tt.file, at(tt.at), true); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	// Only successful uses count, and a check without record counts nothing.
	s.UseLink(expiring.ID, "app.ipa", at(0), false)
	if l, _ := s.Link(expiring.ID); l.AccessCount != 1 {
		t.Fatalf("accessCount: got %d, want 1", l.AccessCount)
	}
}

// A download through a link with a password is refused unless the caller
// checked it against the link's current hash; nothing is counted before.
func TestUseProtectedLink(t *testing.T) {
	s := mustOpen(t)
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "app.ipa", Size: 1, Checksum: checksum("a")})
	l, _ := s.CreateLink(store.PublicLink{FileID: f.ID, PasswordHash: "$argon2id$one"})
	e := store.AccessLogEntry{Time: time.Now()}
	if got, err := s.UseLink(l.ID, "app.ipa", e, true); !errors.Is(err, store.ErrProtected) || got.PasswordHash != "$argon2id$one" {
		t.Fatalf("unchecked download: %v", err)
	}
	if _, err := s.UseLink(l.ID, "app.ipa", e, false); err != nil {
		t.Fatalf("a look (no download) is not gated: %v", err)
	}
	if _, err := s.UseUnlockedLink(l.ID, "app.ipa", e, "$argon2id$old"); !errors.Is(err, store.ErrProtected) {
		t.Fatalf("checked against another password: %v", err)
	}
	if got, err := s.UseUnlockedLink(l.ID, "app.ipa", e, "$argon2id$one"); err != nil || got.AccessCount != 1 {
		t.Fatalf("checked download: %+v %v", got, err)
	}
}

func TestUseLinkLimitIsExact(t *testing.T) {
	s := mustOpen(t)
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "app.ipa", Size: 1, Checksum: checksum("a")})
	l, _ := s.CreateLink(store.PublicLink{FileID: f.ID, DownloadLimit: 10})
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UseLink(l.ID, "app.ipa", store.AccessLogEntry{Time: time.Now(), ClientIP: fmt.Sprint(i)}, true)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrLimitReached):
				limited.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := s.Link(l.ID)
	if ok.Load() != 10 || limited.Load() != 54 || got.AccessCount != 10 {
		t.Fatalf("got %d allowed, %d limited, accessCount %d; want 10, 54, 10", ok.Load(), limited.Load(), got.AccessCount)
	}
	log, _, _ := s.AccessLog(l.ID, store.Page{})
	if len(log) != 10 {
		t.Fatalf("access log: got %d entries, want 10", len(log))
	}
}

// Each link keeps its newest entries up to the cap; the count goes on.
func TestAccessLogCap(t *testing.T) {
	s := openTest(t, store.Options{AccessLogCap: 3})
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 1, Checksum: checksum("a")})
	l, _ := s.CreateLink(store.PublicLink{FileID: f.ID})
	for i := 0; i < 5; i++ {
		s.UseLink(l.ID, "a", store.AccessLogEntry{Time: time.Now(), UserAgent: fmt.Sprint("ua", i)}, true)
	}
	log, _, _ := s.AccessLog(l.ID, store.Page{})
	got, _ := s.Link(l.ID)
	if len(log) != 3 || log[0].UserAgent != "ua4" || log[2].UserAgent != "ua2" || got.AccessCount != 5 {
		t.Fatalf("log %+v, accessCount %d; want ua4..ua2 and 5", log, got.AccessCount)
	}
}

func TestAccessLogNewestFirst(t *testing.T) {
	s := mustOpen(t)
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 1, Checksum: checksum("a")})
	l, _ := s.CreateLink(store.PublicLink{FileID: f.ID})
	other, _ := s.CreateLink(store.PublicLink{FileID: f.ID})
	t0 := time.Now()
	for i := 0; i < 5; i++ {
		s.UseLink(l.ID, "a", store.AccessLogEntry{Time: t0.Add(time.Duration(i) * time.Second), UserAgent: fmt.Sprint("ua", i)}, true)
	}
	s.UseLink(other.ID, "a", store.AccessLogEntry{Time: t0, UserAgent: "other"}, true)
	page, _, _ := s.AccessLog(l.ID, store.Page{Offset: 1, Limit: 2})
	if len(page) != 2 || page[0].UserAgent != "ua3" || page[1].UserAgent != "ua2" || page[0].LinkID != l.ID {
		t.Fatalf("page: got %+v, want ua3, ua2", page)
	}
	all, _, _ := s.AccessLog(l.ID, store.Page{})
	if len(all) != 5 || all[0].UserAgent != "ua4" {
		t.Fatalf("all: got %+v", all)
	}
}

func TestDeleteBuild(t *testing.T) {
	s := mustOpen(t)
	ws, p, b := fixture(t, s, 0)
	other, _ := s.CreateBuild(store.Build{ProjectID: p.ID})
	s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 10, Checksum: checksum("a")})
	s.AddFile(store.File{BuildID: b.ID, Name: "shared", Size: 20, Checksum: checksum("shared")})
	s.AddFile(store.File{BuildID: other.ID, Name: "shared", Size: 20, Checksum: checksum("shared")})

	deleted, unused, err := s.DeleteBuild(b.ID)
	if err != nil || len(deleted) != 2 {
		t.Fatalf("DeleteBuild: got %d files, %v", len(deleted), err)
	}
	if len(unused) != 1 || unused[0] != checksum("a") {
		t.Fatalf("unused blobs: got %v, want only a's", unused)
	}
	if w, _ := s.Workspace(ws.ID); w.StorageUsed != 20 {
		t.Fatalf("storageUsed: got %d, want 20", w.StorageUsed)
	}
	if _, err := s.Build(b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("build after delete: %v", err)
	}
	builds, _, _ := s.Builds(p.ID, store.Page{})
	if len(builds) != 1 || builds[0].ID != other.ID {
		t.Fatalf("builds: got %+v", builds)
	}
}

// DeleteBuilds deletes several builds in one transaction as DeleteBuild
// does each: the blobs left unused by any of them, builds already gone
// counted; with no time it deletes one and leaves the rest.
func TestDeleteBuilds(t *testing.T) {
	s := mustOpen(t)
	ws, p, b := fixture(t, s, 0)
	second, _ := s.CreateBuild(store.Build{ProjectID: p.ID})
	kept, _ := s.CreateBuild(store.Build{ProjectID: p.ID})
	s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 10, Checksum: checksum("a")})
	s.AddFile(store.File{BuildID: second.ID, Name: "shared", Size: 20, Checksum: checksum("shared")})
	s.AddFile(store.File{BuildID: second.ID, Name: "b", Size: 5, Checksum: checksum("b")})
	s.AddFile(store.File{BuildID: kept.ID, Name: "shared", Size: 20, Checksum: checksum("shared")})

	if n, unused, err := s.DeleteBuilds([]string{b.ID, second.ID}, 0); err != nil || n != 1 || len(unused) != 1 || unused[0] != checksum("a") {
		t.Fatalf("no time: %d deleted, unused %v, %v", n, unused, err)
	}
	n, unused, err := s.DeleteBuilds([]string{b.ID, second.ID}, time.Minute)
	if err != nil || n != 2 || len(unused) != 1 || unused[0] != checksum("b") {
		t.Fatalf("the rest: %d deleted, unused %v, %v", n, unused, err)
	}
	if w, _ := s.Workspace(ws.ID); w.StorageUsed != 20 {
		t.Fatalf("storageUsed: got %d, want 20", w.StorageUsed)
	}
	builds, _, _ := s.Builds(p.ID, store.Page{})
	if len(builds) != 1 || builds[0].ID != kept.ID {
		t.Fatalf("builds: got %+v", builds)
	}
}

// LikelyCopy finds the newest file of a name (and size) in the project's
// newest builds, never another project's, and gives up after 16 builds or
// 256 file rows.
func TestLikelyCopy(t *testing.T) {
	s := mustOpen(t)
	ws, p, old := fixture(t, s, 0)
	other, _ := s.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "other", Name: "Other"})
	s.AddFile(store.File{BuildID: old.ID, Name: "app.apk", Size: 10, Checksum: checksum("old")})
	newer, _ := s.CreateBuild(store.Build{ProjectID: p.ID})
	s.AddFile(store.File{BuildID: newer.ID, Name: "app.apk", Size: 10, Checksum: checksum("newer")})
	theirs, _ := s.CreateBuild(store.Build{ProjectID: other.ID})
	s.AddFile(store.File{BuildID: theirs.ID, Name: "their.apk", Size: 10, Checksum: checksum("theirs")})
	upload, _ := s.CreateBuild(store.Build{ProjectID: p.ID})
	for _, tc := range []struct {
		name string
		size int64
		want string
	}{
		{"app.apk", -1, checksum("newer")},
		{"app.apk", 10, checksum("newer")},
		{"app.apk", 11, ""},
		{"their.apk", -1, ""},
		{"none.apk", -1, ""},
	} {
		if got, err := s.LikelyCopy(upload.ID, tc.name, tc.size); err != nil || got != tc.want {
			t.Errorf("%s (%d bytes): %q %v, want %q", tc.name, tc.size, got, err, tc.want)
		}
	}
	// Newer builds with many files between: the bounds stop the search.
	crowded, _ := s.CreateBuild(store.Build{ProjectID: p.ID})
	for i := range 300 {
		s.AddFile(store.File{BuildID: crowded.ID, Name: fmt.Sprintf("f%d", i), Size: 1, Checksum: checksum(fmt.Sprint(i))})
	}
	if got, _ := s.LikelyCopy(upload.ID, "app.apk", -1); got != "" {
		t.Errorf("found %q past 300 file rows", got)
	}
	s.DeleteBuild(crowded.ID)
	for range 16 {
		s.CreateBuild(store.Build{ProjectID: p.ID})
	}
	if got, _ := s.LikelyCopy(upload.ID, "app.apk", -1); got != "" {
		t.Errorf("found %q past 16 newer builds", got)
	}
}

// A database written by schema 1 (made here the way schema 1 wrote it:
// links without fileName) is migrated at Open, in one transaction.
func TestMigrateFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "app.ipa", Size: 1, Checksum: checksum("a")})
	l, _ := s.CreateLink(store.PublicLink{FileID: f.ID})
	s.Close()

	// Rewrite the link as schema 1 stored it and mark the database schema 1.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		links := tx.Bucket([]byte("links"))
		var raw map[string]any
		json.Unmarshal(links.Get([]byte(l.ID)), &raw)
		delete(raw, "fileName")
		v, _ := json.Marshal(raw)
		links.Put([]byte(l.ID), v)
		old := make([]byte, 8)
		binary.BigEndian.PutUint64(old, 1)
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), old)
	})
	db.Close()

	var logs bytes.Buffer
	s, err = store.Open(path, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(); v != store.SchemaVersion {
		t.Fatalf("schema after open: %d, want %d", v, store.SchemaVersion)
	}
	got, _ := s.Link(l.ID)
	if got.FileName != "app.ipa" {
		t.Fatalf("migrated link: fileName %q, want app.ipa", got.FileName)
	}
	if _, err := s.UseLink(l.ID, "app.ipa", store.AccessLogEntry{Time: time.Now()}, true); err != nil {
		t.Fatalf("migrated link does not work: %v", err)
	}
	if !strings.Contains(logs.String(), "backup") {
		t.Fatalf("no backup reminder in the log: %s", logs.String())
	}
}

func TestGC(t *testing.T) {
	clock := time.Now()
	s := openTest(t, store.Options{Now: func() time.Time { return clock }})
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 1, Checksum: checksum("a")})
	used, _, _ := s.CreateDownloadToken(f.ID, clock.Add(time.Minute))
	s.RedeemDownloadToken(used)
	s.CreateDownloadToken(f.ID, clock.Add(-time.Second)) // expired
	fresh, _, _ := s.CreateDownloadToken(f.ID, clock.Add(time.Minute))
	u, _ := s.CreateUser(store.User{Username: "u", PasswordHash: "x"})
	oldSession, _, _ := s.CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, ExpiresAt: clock.Add(-time.Second)})
	live, _, _ := s.CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, ExpiresAt: clock.Add(time.Hour)})
	l, _ := s.CreateLink(store.PublicLink{FileID: f.ID})
	s.UseLink(l.ID, "a", store.AccessLogEntry{Time: clock.Add(-48 * time.Hour)}, true)
	s.UseLink(l.ID, "a", store.AccessLogEntry{Time: clock}, true)

	res, err := s.GC(clock.Add(-24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res != (store.GCResult{DownloadTokens: 2, Sessions: 1, AccessLog: 1}) {
		t.Fatalf("GC: got %+v", res)
	}
	if _, err := s.RedeemDownloadToken(fresh); err != nil {
		t.Fatalf("a live download token was removed: %v", err)
	}
	if _, err := s.TokenByPlain(live); err != nil {
		t.Fatalf("a live session was removed: %v", err)
	}
	if _, err := s.TokenByPlain(oldSession); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: got %v, want ErrNotFound", err)
	}
	if log, _, _ := s.AccessLog(l.ID, store.Page{}); len(log) != 1 {
		t.Fatalf("access log: %d entries, want 1", len(log))
	}
}

// The processing queue follows the build's status in the same transaction
// as the status, and FinishProcessing records the outcome and the icon at
// once.
func TestProcessingQueue(t *testing.T) {
	s := openTest(t, store.Options{})
	ws, _, b := fixture(t, s, 0)
	if _, err := s.UpdateWorkspace(ws.ID, func(w *store.Workspace) error { w.StorageQuota = 10; return nil }); err != nil {
		t.Fatal(err)
	}
	queue := func() []string {
		ids, err := s.ProcessingQueue()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	p := b.ProjectID
	second, _ := s.CreateBuild(store.Build{ProjectID: p, Status: store.BuildInProgress})
	s.UpdateBuild(b.ID, func(b *store.Build) error { b.Status = store.BuildInProgress; return nil })
	if got := queue(); !slices.Equal(got, []string{b.ID, second.ID}) {
		t.Fatalf("queue %v, want [%s %s] (upload order)", got, b.ID, second.ID)
	}

	icon := &store.File{Type: store.FileIcon, Name: "icon.png", Size: 50, Checksum: checksum("icon"), MimeType: "image/png"}
	got, f, err := s.FinishProcessing(b.ID, func(b *store.Build) {
		b.Status, b.BundleID, b.OS = store.BuildProcessed, "com.example", "ios"
	}, icon)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.BuildProcessed || got.BundleID != "com.example" || f.BuildID != b.ID || f.ID == "" {
		t.Fatalf("finished build %+v, icon %+v", got, f)
	}
	if files, _ := s.Files(b.ID); len(files) != 1 || files[0].Type != store.FileIcon {
		t.Fatalf("files %+v", files)
	}
	// The icon counts towards storage although it exceeds the quota of 10.
	if w, _ := s.Workspace(ws.ID); w.StorageUsed != 50 {
		t.Fatalf("storageUsed %d, want 50", w.StorageUsed)
	}
	if n, _ := s.BlobRefCount(checksum("icon")); n != 1 {
		t.Fatalf("icon blob refs %d", n)
	}
	if got := queue(); !slices.Equal(got, []string{second.ID}) {
		t.Fatalf("queue %v after finishing %s", got, b.ID)
	}
	// Finishing twice (two workers on one build) changes nothing.
	if _, _, err := s.FinishProcessing(b.ID, func(b *store.Build) { b.Status = store.BuildError }, icon); !errors.Is(err, store.ErrNotInProgress) {
		t.Fatalf("second finish: %v", err)
	}
	if files, _ := s.Files(b.ID); len(files) != 1 {
		t.Fatalf("second finish added a file: %+v", files)
	}
	// A deleted build leaves the queue, and finishing it is not found.
	if _, _, err := s.DeleteBuild(second.ID); err != nil {
		t.Fatal(err)
	}
	if got := queue(); len(got) != 0 {
		t.Fatalf("queue %v after delete", got)
	}
	if _, _, err := s.FinishProcessing(second.ID, func(*store.Build) {}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finish deleted build: %v", err)
	}
}

// Schema 2 had no processing queue: builds it left in_progress are queued
// by the migration.
func TestMigrateFromSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, b := fixture(t, s, 0)
	s.UpdateBuild(b.ID, func(b *store.Build) error { b.Status = store.BuildInProgress; return nil })
	s.Close()

	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("processing")); err != nil {
			return err
		}
		old := make([]byte, 8)
		binary.BigEndian.PutUint64(old, 2)
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), old)
	})
	db.Close()

	s, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ids, _ := s.ProcessingQueue(); !slices.Equal(ids, []string{b.ID}) {
		t.Fatalf("queue after migration: %v", ids)
	}
}

// Schema 4 keeps monitoring totals as counters; a schema 3 database gets
// them from a scan at its first open, and from then on they move with the
// data.
func TestMigrateFromSchema3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, b := fixture(t, s, 0)
	f1, _ := s.AddFile(store.File{BuildID: b.ID, Name: "a.ipa", Size: 1, Checksum: checksum("a")})
	f2, _ := s.AddFile(store.File{BuildID: b.ID, Name: "b.ipa", Size: 1, Checksum: checksum("b")})
	l1, _ := s.CreateLink(store.PublicLink{FileID: f1.ID})
	l2, _ := s.CreateLink(store.PublicLink{FileID: f2.ID})
	for range 3 {
		if _, err := s.UseLink(l1.ID, "", store.AccessLogEntry{Time: time.Now()}, true); err != nil {
			t.Fatal(err)
		}
	}
	s.DeactivateLink(l2.ID)
	s.Close()

	// What a schema 3 database holds: no counters.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		for _, k := range []string{"count/links_active", "count/link_downloads", "count/blobs"} {
			meta.Delete([]byte(k))
		}
		old := make([]byte, 8)
		binary.BigEndian.PutUint64(old, 3)
		return meta.Put([]byte("schema_version"), old)
	})
	db.Close()

	s, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats()
	if err != nil || st.ActiveLinks != 1 || st.LinkDownloads != 3 || st.Blobs != 2 {
		t.Fatalf("after migration: %+v, %v; want 1 active link, 3 downloads, 2 blobs", st, err)
	}
	// They move with the data: a file deleted (its blob's last reference,
	// its link deactivated), a download.
	if _, _, err := s.DeleteFile(f1.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.ActiveLinks != 0 || st.LinkDownloads != 3 || st.Blobs != 1 {
		t.Fatalf("after deleting a file: %+v", st)
	}
	if a, _ := s.Audit(); a.Counts != a.CountsFound {
		t.Fatalf("counters %+v, data %+v", a.Counts, a.CountsFound)
	}
}

// GC removes in many small transactions: over more keys than one of them
// takes, it removes exactly the old entries of each link and the dead
// download tokens, and keeps the rest.
func TestGCInBatches(t *testing.T) {
	clock := time.Now()
	s := openTest(t, store.Options{Now: func() time.Time { return clock }, NoSync: true})
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 1, Checksum: checksum("a")})
	old, young := clock.Add(-48*time.Hour), clock
	use := func(l store.PublicLink, when time.Time, n int) {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range n / 32 {
					if _, err := s.UseLink(l.ID, "a", store.AccessLogEntry{Time: when}, true); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	allOld, half, allYoung := store.PublicLink{FileID: f.ID}, store.PublicLink{FileID: f.ID}, store.PublicLink{FileID: f.ID}
	for _, l := range []*store.PublicLink{&allOld, &half, &allYoung} {
		*l, _ = s.CreateLink(*l)
	}
	use(allOld, old, 3200)
	use(half, old, 1600)
	use(half, young, 1600)
	use(allYoung, young, 3200)
	for i := range 3000 {
		exp := clock.Add(time.Minute)
		if i%3 != 0 {
			exp = clock.Add(-time.Second)
		}
		if _, _, err := s.CreateDownloadToken(f.ID, exp); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.GC(clock.Add(-24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res != (store.GCResult{DownloadTokens: 2000, AccessLog: 4800}) {
		t.Fatalf("GC: got %+v", res)
	}
	for _, c := range []struct {
		l    store.PublicLink
		want int
	}{{allOld, 0}, {half, 1600}, {allYoung, 3200}} {
		log, _, err := s.AccessLog(c.l.ID, store.Page{})
		if err != nil || len(log) != c.want {
			t.Fatalf("link with %d young entries keeps %d, %v", c.want, len(log), err)
		}
		for _, e := range log {
			if e.Time.Before(clock.Add(-24 * time.Hour)) {
				t.Fatalf("an old entry is left: %v", e.Time)
			}
		}
	}
}

// Tokens page by cursor: every token once, in the order of the whole list.
func TestTokensPage(t *testing.T) {
	s := mustOpen(t)
	if _, err := s.Bootstrap(""); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(store.User{Username: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if _, _, err := s.CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.AllTokens()
	if err != nil || len(all) != 7 {
		t.Fatalf("%d tokens, %v", len(all), err)
	}
	var paged []store.Token
	for after := ""; ; {
		page, next, err := s.TokensPage(after, 3)
		if err != nil || len(page) > 3 {
			t.Fatalf("page: %d, %v", len(page), err)
		}
		paged = append(paged, page...)
		if next == "" {
			break
		}
		after = next
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d, all %d", len(paged), len(all))
	}
	for i := range all {
		if !bytes.Equal(paged[i].Hash, all[i].Hash) {
			t.Fatalf("token %d differs", i)
		}
	}
	if _, _, err := s.TokensPage("not base64!", 3); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	_, next, _ := s.TokensPage("", 3)
	if other, ok := hangartest.Respell(next); !ok {
		t.Fatalf("cursor %q cannot be respelled", next)
	} else if _, _, err := s.TokensPage(other, 3); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a cursor spelled otherwise: %v", err)
	}
}
