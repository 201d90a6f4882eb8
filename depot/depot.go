// Package depot is Hangar's data directory and every change that touches
// its metadata (package store) and its bytes (package blob) together: a
// file is added, opened or deleted, a build is created (with undo) or
// deleted, a package is processed, retention and gc run. Both fronts, the
// HTTP API and the command line, change data through it, so the protocol
// that keeps the two stores consistent is written once:
//
//   - a blob is durable at its path before the row that refers to it is
//     committed (blob.Put runs the commit under the blob's lock);
//   - a blob is removed only after the transaction that dropped its last
//     reference has committed, under the same lock, checking again;
//   - a failure leaves no trace: what a failed request stored is undone.
//
// Reads need no protocol: they go to Store() directly.
package depot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"hangar/blob"
	"hangar/config"
	"hangar/pkginfo"
	"hangar/store"
)

// The data directory's layout, named here only.
const (
	dbFile  = "hangar.db"
	blobDir = "blobs"
)

// DBPath is the metadata database's path in data directory dir.
func DBPath(dir string) string { return filepath.Join(dir, dbFile) }

// BlobDir is the blob directory's path in data directory dir.
func BlobDir(dir string) string { return filepath.Join(dir, blobDir) }

// DataDir is the data directory of the configuration: where, besides the
// database and the blobs, the local CA's key lives (tls/).
func (d *Depot) DataDir() string { return d.cfg.DataDir }

// Depot is an open data directory. It is safe for concurrent use.
type Depot struct {
	store *store.Store
	blobs *blob.Store // the local blob directory
	// backend is where blobs live: the local directory, or remote.
	backend blob.Backend
	remote  *blob.S3Store // nil: blobs are local
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time

	work        *workQueue
	readPkg     func(store.File) (pkginfo.Info, error)
	readTimeout time.Duration
	counters    counters
}

// Options are what a Depot needs besides its directory.
type Options struct {
	// Config gives the limits and policies: max_upload_size, retention
	// defaults, access_log_retention, processing_workers.
	Config config.Config
	Logger *slog.Logger     // default: slog.Default()
	Now    func() time.Time // default: time.Now
	// LockTimeout bounds the wait for the database's lock (another process
	// holding it); default one second.
	LockTimeout time.Duration
	// SkipDatabaseCheck opens a data directory whose database has no file
	// beside blobs: for fsck, which checks it itself (and looks anyway
	// with -force).
	SkipDatabaseCheck bool

	// ReadPackage replaces how processing reads a package (tests: a reader
	// that hangs, fails or returns what the test says); ReadTimeout how long
	// a read may take (default two minutes).
	ReadPackage func(name string) (pkginfo.Info, error)
	ReadTimeout time.Duration

	// S3, when set, is where blobs live instead of the local directory
	// (the [blobs] section of the configuration).
	S3 *blob.S3Store
}

// Open opens (creating if needed) the data directory dir. A database with
// no file beside a blob directory with blobs is refused (ErrDatabaseLost),
// and a new database made by this call is removed again; store.ErrLocked
// means another process holds it.
func Open(dir string, o Options) (*Depot, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	_, statErr := os.Stat(DBPath(dir))
	// The database comes first: its file lock makes this process the data
	// directory's only owner before anything else (temp file cleanup above
	// all) touches it.
	so := store.Options{Logger: o.Logger, Now: o.Now, LockTimeout: o.LockTimeout}
	if o.Config.Audit.Log {
		so.AuditSink = auditLine(o.Logger)
	}
	st, err := store.Open(DBPath(dir), so)
	if err != nil {
		return nil, err
	}
	blobs, err := blob.Open(BlobDir(dir))
	if err != nil {
		st.Close()
		return nil, err
	}
	d := New(st, blobs, o)
	if o.SkipDatabaseCheck {
		return d, nil
	}
	if err := d.CheckDatabase(); err != nil {
		st.Close()
		if errors.Is(statErr, fs.ErrNotExist) {
			os.Remove(DBPath(dir)) // made just now by store.Open: leave the directory as it was
		}
		return nil, err
	}
	return d, nil
}

// New is a Depot over an open store and blob directory (Open's second
// half; tests use it to share a store). Close closes the store.
func New(st *store.Store, blobs *blob.Store, o Options) *Depot {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Depot{
		store: st, blobs: blobs, backend: blob.Dir{Store: blobs}, cfg: o.Config, log: o.Logger, now: o.Now,
		work:        newWorkQueue(max(o.Config.ProcessingWorkers, 1)),
		readTimeout: cmp.Or(o.ReadTimeout, readTimeout),
	}
	if o.S3 != nil {
		d.backend, d.remote = o.S3, o.S3
	}
	d.readPkg = d.readPackage
	if o.ReadPackage != nil {
		d.readPkg = func(f store.File) (pkginfo.Info, error) { return o.ReadPackage(f.Name) }
	}
	return d
}

// Close closes the database. Background work (Start) must have ended.
func (d *Depot) Close() error { return d.store.Close() }

// Store is the metadata store, for reads and for changes that touch no
// blob (workspaces, projects, links, tokens, users).
func (d *Depot) Store() *store.Store { return d.store }

// Blobs is the blob directory, for the maintenance packages that read it
// whole (fsck, backup). Changes go through the Depot's methods.
func (d *Depot) Blobs() *blob.Store { return d.blobs }

// Backend is where blobs live (the directory or the bucket), for fsck,
// which reads them all. Changes go through the Depot's methods.
func (d *Depot) Backend() blob.Backend { return d.backend }

// StoreOp is what the S3 store counted of one operation, for metrics.
type StoreOp struct {
	Name          string // upload, copy, stat, get, remove, list
	Count, Errors uint64
	Seconds       float64
}

// StoreOps are the S3 store's operations since it was opened (nil when
// blobs are local).
func (d *Depot) StoreOps() []StoreOp {
	if d.remote == nil {
		return nil
	}
	var out []StoreOp
	for op, st := range d.remote.Stats() {
		out = append(out, StoreOp{Name: blob.OpNames[op], Count: st.Count, Errors: st.Errors, Seconds: st.Seconds})
	}
	return out
}

// Remote is the S3 bucket blobs live in, or nil when they are local.
func (d *Depot) Remote() *blob.S3Store { return d.remote }

// Errors of the blob store, for callers that map them to answers without
// importing it.
var (
	ErrTooLarge = blob.ErrTooLarge // an upload over max_upload_size
	ErrRead     = blob.ErrRead     // the upload's body ended early or failed
	ErrNoSpace  = blob.ErrNoSpace  // the disk is full
	// ErrUnavailable: the S3 store did not answer or refused.
	ErrUnavailable = blob.ErrUnavailable
	// ErrDigestMismatch: the body was not what its declared digest said.
	ErrDigestMismatch = blob.ErrDigestMismatch
	// ErrGone: a declared duplicate's stored copy went away meanwhile.
	ErrGone = blob.ErrGone
)

// ErrDatabaseLost is returned by Open and CheckDatabase when the database
// has no file but the blob directory has blobs.
var ErrDatabaseLost = errors.New("the database has no file but the blob directory has blobs")

// CheckDatabase returns an error wrapping ErrDatabaseLost when the store
// has neither a workspace nor a file while the blob directory holds blobs:
// hangar.db missing, emptied or replaced beside the blobs it described.
// Starting on it would make a new instance (a new admin token) and call
// every blob an orphan. A database with workspaces but no file is not
// lost: a kill between a first upload's blob and its row leaves exactly
// that (an orphan, fsck's to report). It reads the first blob only.
func (d *Depot) CheckDatabase() error {
	ws, files, err := d.store.Contents()
	if err != nil || files || ws {
		return err
	}
	errFound := errors.New("found")
	where := d.blobs.Dir()
	if d.remote != nil {
		where = "the S3 bucket"
	}
	switch err := d.backend.Walk(context.Background(), func(blob.Ref, int64) error { return errFound }); {
	case errors.Is(err, errFound):
		return fmt.Errorf("%w (%s beside %s): restore the database from a backup (stop Hangar, move the data directory aside, "+
			"hangar restore BACKUP), or, to start afresh on purpose, move the blobs away first", ErrDatabaseLost, d.store.Path(), where)
	case err != nil:
		return fmt.Errorf("walk blobs: %w", err)
	}
	return nil
}

// Free returns the bytes available on the data directory's disk.
func (d *Depot) Free() (int64, error) { return d.blobs.Free() }

// Counters are what the depot counted since it was made, for metrics.
type Counters struct {
	Processed, ProcessingFailed uint64 // packages read, by outcome
	DamagedRefused              uint64 // opens of a blob whose size was wrong
	DamagedReplaced             uint64 // damaged blobs replaced by an identical upload
	Queued                      int    // builds waiting for a processing worker
}

type counters struct {
	processed, failed, refused, replaced atomic.Uint64
}

// Counters returns the counts so far.
func (d *Depot) Counters() Counters {
	return Counters{
		Processed: d.counters.processed.Load(), ProcessingFailed: d.counters.failed.Load(),
		DamagedRefused: d.counters.refused.Load(), DamagedReplaced: d.counters.replaced.Load(),
		Queued: d.work.len(),
	}
}

// auditLine writes an audit log entry as a structured log line, for a SIEM
// that collects the service's logs.
func auditLine(log *slog.Logger) func(store.AuditEntry) {
	if log == nil {
		log = slog.Default()
	}
	return func(e store.AuditEntry) {
		// Testers' addresses stay in the audit log, out of log lines: a
		// tester's entries name the entry, a group's changes count.
		if e.Target.Kind == "tester" {
			e.Target.Name = "(see audit entry " + e.ID + ")"
		}
		if strings.HasPrefix(e.Action, "tester_group.") {
			d := maps.Clone(e.Details)
			for _, k := range []string{"added", "removed"} {
				switch v := d[k].(type) {
				case []string:
					d[k] = len(v)
				case []any:
					d[k] = len(v)
				}
			}
			e.Details = d
		}
		log.Info("audit", "id", e.ID, "action", e.Action,
			slog.Group("actor", "kind", e.Actor.Kind, "id", e.Actor.ID, "name", e.Actor.Name),
			"client_ip", e.ClientIP,
			slog.Group("target", "kind", e.Target.Kind, "id", e.Target.ID, "name", e.Target.Name),
			"workspace", e.Workspace, "details", e.Details)
	}
}
