package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hangar/auth"
	"hangar/blob"
	"hangar/config"
	"hangar/depot"
	"hangar/directory"
	"hangar/fsck"
	"hangar/hangartest"
	"hangar/mail"
	"hangar/pkginfo"
	"hangar/pkginfo/pkgtest"
	"hangar/server"
	"hangar/store"
	"hangar/webhook"
)

// The test environment: a real server over a real data directory, its
// clock, and the fixtures tests build on (users, members, tokens, builds,
// links, distributions), made through the API as a client would.

// env is a real server over a real bbolt file and blob directory.
// The workspace and app every environment starts with, by path.
const (
	projPath = "/api/v1/workspace/acme/project/app"
	appPath  = "/v1/organizations/acme/apps/app"
)

type env struct {
	t     testing.TB
	srv   *server.Server
	ts    *httptest.Server
	store *store.Store
	blobs *blob.Store
	depot *depot.Depot
	build store.Build
	logs  *hangartest.SyncBuffer

	hasher *auth.Hasher

	mu  sync.Mutex
	now time.Time
}

// fillWithoutSync makes newEnv's database skip fsync: for benchmarks that
// fill it with many rows first, never for a test of durability.
var fillWithoutSync bool

// checkConsistent runs fsck (with -verify) on the test's data directory
// and fails the test on any finding: every test that starts a server ends
// with a clean fsck.
func (e *env) checkConsistent() {
	rep, err := fsck.Run(e.depot, fsck.Options{Verify: true})
	if err != nil {
		e.t.Errorf("fsck after the test: %v", err)
		return
	}
	for _, f := range rep.Findings {
		e.t.Errorf("fsck after the test: %s", f.Message)
	}
}

// cheapHasher keeps password hashing fast in tests; the format and checks
// are the same at any cost.
func cheapHasher() *auth.Hasher {
	return auth.NewHasher(auth.Params{Time: 1, Memory: 64, Threads: 1}, 4)
}

func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with a chance to change the config first.
func newEnvWith(t testing.TB, configure func(*config.Config)) *env {
	return newEnvReading(t, configure, nil, 0)
}

// newEnvReading is newEnvWith whose processing reads packages with read,
// each within timeout (nil: the real reader).
func newEnvReading(t testing.TB, configure func(*config.Config), read func(name string) (pkginfo.Info, error), timeout time.Duration) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, logs: &hangartest.SyncBuffer{}, now: time.Now()}
	st, err := store.Open(filepath.Join(dir, "hangar.db"), store.Options{Now: e.clock, NoSync: fillWithoutSync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.blobs = st, blobs

	var h http.Handler
	e.ts = httptest.NewServer(validating(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })))
	t.Cleanup(e.ts.Close)
	cfg := config.Default()
	cfg.PublicURL = e.ts.URL
	if configure != nil {
		configure(&cfg)
	}
	e.hasher = cheapHasher()
	var logTo io.Writer = e.logs
	if _, ok := t.(*testing.B); ok {
		logTo = io.Discard // benchmarks measure the server, not this buffer
	}
	log := slog.New(slog.NewTextHandler(logTo, nil))
	e.depot = depot.New(st, blobs, depot.Options{Config: cfg, Logger: log, Now: e.clock, ReadPackage: read, ReadTimeout: timeout})
	var sender *mail.Sender
	stopMail := func() {}
	if cfg.SMTP.Host != "" {
		if sender, err = mail.New(cfg.SMTP, st, log, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sender.Run(ctx, 50*time.Millisecond); close(done) }()
		var once sync.Once
		stopMail = func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stopMail)
	}
	var people *directory.Directory
	if cfg.LDAP.URL != "" {
		if people, err = directory.New(cfg.LDAP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(people.Close)
	}
	e.srv, err = server.New(server.Options{
		Hasher:    e.hasher,
		Depot:     e.depot,
		Config:    cfg,
		Logger:    log,
		Now:       e.clock,
		Mail:      sender,
		Directory: people,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sender != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.srv.RunNotifications(ctx, 50*time.Millisecond); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	h = e.srv
	ctx, cancel := context.WithCancel(context.Background())
	processed, err := e.depot.StartProcessing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Before the store closes: stop the workers, then check that whatever
	// the test did left the data directory consistent.
	t.Cleanup(func() {
		cancel()
		processed()
		stopMail() // a writer too: the page check needs a quiet database
		e.checkConsistent()
	})

	ws, err := st.CreateWorkspace(store.Workspace{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "app", Name: "App"})
	if err != nil {
		t.Fatal(err)
	}
	if e.build, err = st.CreateBuild(store.Build{ProjectID: p.ID}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// addFile stores content the way the upload handlers do: blob first, then
// the row and reference inside the blob's commit.
func (e *env) addFile(name, mimetype string, content []byte) store.File {
	e.t.Helper()
	var f store.File
	_, err := e.blobs.Put(bytes.NewReader(content), 0, func(info blob.Info) error {
		var err error
		f, err = e.store.AddFile(store.File{BuildID: e.build.ID, Type: store.FileAttachment, Name: name,
			MimeType: mimetype, Size: info.Size, Checksum: info.Ref.String()})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

func (e *env) deleteFile(id string) {
	e.t.Helper()
	f, last, err := e.store.DeleteFile(id)
	if err != nil {
		e.t.Fatal(err)
	}
	if last {
		ref, _ := blob.ParseRef(f.Checksum)
		if _, err := e.blobs.RemoveUnused(ref, func(blob.Ref) (bool, error) { return e.store.BlobInUse(f.Checksum) }); err != nil {
			e.t.Fatal(err)
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Real packages, for tests that need a build processed: an IPA built by
// pkgtest (pkgtest.DemoApp) and the APK of androidbinary's test data
// (pkginfo/testdata/README.md).
func demoIPA() string { return string(pkgtest.IPA(pkgtest.DemoApp)) }

func helloAPK(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../pkginfo/testdata/helloworld.apk")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitProcessed waits for the background workers to finish a build and
// returns it.
func (e *env) waitProcessed(id string) store.Build {
	e.t.Helper()
	return hangartest.WaitProcessed(e.t, e.store, id)
}

func (e *env) adminToken() string {
	e.t.Helper()
	tok, err := e.store.Bootstrap("")
	if err != nil || tok == "" {
		e.t.Fatalf("bootstrap: %q, %v", tok, err)
	}
	return tok
}

// serviceAccount creates a service account with a role in a workspace
// through the API and returns its token and ID.
func (e *env) serviceAccount(admin, ws, name, role string) (string, string) {
	e.t.Helper()
	var out struct {
		ServiceAccount struct{ ID string }
		Token          string
	}
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/"+ws+"/service-account", admin,
		fmt.Sprintf(`{"name":%q,"role":%q}`, name, role), &out)
	return out.Token, out.ServiceAccount.ID
}

// newUser makes a user as an admin does through the API (body is the
// request's), then has them choose their own password, the same one: a
// password an admin set must be replaced before anything else.
func (e *env) newUser(admin, body string) {
	e.t.Helper()
	e.mustReq(http.StatusCreated, "POST", "/api/v1/user", admin, body, nil)
	var u struct{ Username, Password string }
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		e.t.Fatal(err)
	}
	session := e.login(u.Username, u.Password)
	e.mustReq(http.StatusNoContent, "PUT", "/api/v1/user/"+u.Username+"/password", session, fmt.Sprintf(`{"password":%q}`, u.Password), nil)
}

// member makes a user and gives them a role in acme, as an admin does
// through the API.
func (e *env) member(admin, username, password, role string) {
	e.t.Helper()
	e.newUser(admin, fmt.Sprintf(`{"username":%q,"password":%q}`, username, password))
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, fmt.Sprintf(`{"username":%q,"role":%q}`, username, role), nil)
}

func (e *env) login(username, password string) string {
	e.t.Helper()
	var out struct{ Token string }
	e.mustReq(http.StatusOK, "POST", "/api/v1/auth/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, username, password), &out)
	return out.Token
}

type buildResp struct {
	BuildID, Status, Version, BuildNumber, Notes string
	Files                                        []struct {
		FileID, Name, Path, FileExtension, Type, Checksum, CreatedAt string
		Size                                                         int64
	}
}

func (e *env) upload(token string, parts ...part) buildResp {
	e.t.Helper()
	ctype, body := multipartBody(e.t, parts...)
	code, b := e.send("POST", projPath+"/build", token, ctype, body)
	if code != http.StatusCreated {
		e.t.Fatalf("upload: got %d, want 201: %s", code, b)
	}
	var out buildResp
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) storageUsed(admin string) int64 {
	e.t.Helper()
	var ws struct{ StorageUsed int64 }
	e.mustReq(200, "GET", "/api/v1/workspace/acme", admin, "", &ws)
	return ws.StorageUsed
}

func (e *env) blobCount() int {
	n := 0
	e.blobs.Walk(func(blob.Ref, int64) error { n++; return nil })
	return n
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// noTrace checks that a refused upload changed nothing.
func (e *env) noTrace(admin string, builds, blobs int, used int64) {
	e.t.Helper()
	var list []struct{ BuildID string }
	e.mustReq(200, "GET", projPath+"/build", admin, "", &list)
	tmp, _ := os.ReadDir(filepath.Join(e.blobs.Dir(), "tmp"))
	if len(list) != builds || e.blobCount() != blobs || e.storageUsed(admin) != used || len(tmp) != 0 {
		e.t.Fatalf("trace left: %d builds (want %d), %d blobs (want %d), %d bytes used (want %d), %d temp files",
			len(list), builds, e.blobCount(), blobs, e.storageUsed(admin), used, len(tmp))
	}
}

type distResp struct {
	ID, Slug, URL, QRURL, Security string
	AccessCount                    int64
}

func (e *env) distribution(admin, body string) distResp {
	e.t.Helper()
	var d distResp
	e.mustReq(http.StatusCreated, "POST", projPath+"/distribution", admin, body, &d)
	return d
}

func (e *env) orgUpload(token string, parts ...part) orgBuild {
	e.t.Helper()
	ctype, body := multipartBody(e.t, parts...)
	r := e.org(201, "POST", appPath+"/builds", token, ctype, body)
	var b orgBuild
	if err := json.Unmarshal(r.Data, &b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// appToken makes an app token of the project with a scope ("": the
// default, upload only).
func (e *env) appToken(admin, project, scope string) string {
	e.t.Helper()
	var tk struct{ Token string }
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/project/"+project+"/app-token", admin, fmt.Sprintf(`{"name":"ci","scope":%q}`, scope), &tk)
	return tk.Token
}

// newProxiedEnv is an env behind a trusted proxy on loopback, so that a
// test can say that the tester reached Hangar over HTTPS
// (X-Forwarded-Proto).
func newProxiedEnv(t *testing.T) *env {
	return newEnvWith(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
}

// serveReal runs the env's server through Serve (the production http.Server
// with its timeouts) on a loopback port of its own.
func serveReal(t *testing.T, e *env) string {
	t.Helper()
	return serveOn(t, e.srv.Serve)
}

// serveOn runs serve (Serve or ServeOnboarding) on a loopback port of its
// own until the test ends.
func serveOn(t *testing.T, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the server did not stop")
		}
	})
	return ln.Addr().String()
}

// deliverer is the server's delivery worker for a test: on the env's
// clock, allowed to reach the test's receivers on loopback.
func (e *env) deliverer(timeout time.Duration) *webhook.Deliverer {
	return webhook.New(webhook.Options{Store: e.store, BaseURL: e.ts.URL, Now: e.clock, Timeout: timeout,
		Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
}

func (e *env) webhook(admin, scope, url, events string) (id, secret string) {
	e.t.Helper()
	var w struct{ ID, Secret string }
	e.mustReq(http.StatusCreated, "POST", scope+"/webhook", admin, fmt.Sprintf(`{"url":%q,"events":[%s]}`, url, events), &w)
	return w.ID, w.Secret
}
