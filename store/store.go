// Package store keeps Hangar's metadata in one bbolt file: workspaces,
// projects, builds, files and their blob reference counts, public links and
// their access logs, download tokens, users, service accounts, API tokens and
// URL signing keys.
//
// Every mutation is one bbolt transaction. Values are JSON (small, and
// readable with any bbolt browser when something goes wrong); keys of
// secondary indexes are built with key(). Secrets are never stored: tokens are
// kept as their SHA-256.
package store

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this code writes. A database with a higher
// version was written by a newer Hangar and is refused; a lower one is
// migrated at Open (see migrate.go).
const SchemaVersion = 7

var (
	// ErrNotFound is returned when the entity asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a unique key (a slug, a username) is taken.
	ErrConflict = errors.New("already exists")
	// ErrQuotaExceeded is returned by AddFile when the workspace's storage
	// quota would be exceeded.
	ErrQuotaExceeded = errors.New("workspace storage quota exceeded")
	// ErrLocked is returned by Open when another process holds the database.
	ErrLocked = errors.New("database is in use by another process")
	// ErrSchemaTooNew is returned by Open for a database written by a newer
	// version of Hangar.
	ErrSchemaTooNew = errors.New("database was written by a newer version of hangar")
	// ErrInvalid is returned for arguments that can never be stored (an empty
	// slug, a negative size).
	ErrInvalid = errors.New("invalid")
	// ErrTokenExpired is returned when redeeming an expired or already used
	// single-use token.
	ErrTokenExpired = errors.New("token expired")
)

var keySchema = []byte("schema_version") // in meta

// Store is the metadata database. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	group  *committer
	links  *linkMemo // links as counted downloads last wrote them
	now    func() time.Time
	log    *slog.Logger
	logCap int64
	// actor is who this view's changes are recorded as (As); auditSink,
	// when set, also receives every audit entry once it is committed.
	actor     Actor
	auditSink func(AuditEntry)
}

// Options tune Open. The zero value is fine.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the
	// database before it returns ErrLocked. Default 1s: fail fast rather than
	// hang, as bbolt does by default.
	LockTimeout time.Duration
	// Now replaces time.Now, for tests.
	Now func() time.Time
	// Logger receives migration notices; default slog.Default().
	Logger *slog.Logger
	// AccessLogCap is how many access log entries each public link keeps;
	// default DefaultAccessLogCap.
	AccessLogCap int
	// AuditSink, when set, receives every audit log entry after its
	// transaction commits (a structured log line for a SIEM).
	AuditSink func(AuditEntry)
	// NoSync skips the fsync of each commit: a crash may lose or corrupt
	// the database. Only for filling a throwaway database in bulk (tests,
	// bench/scale), never for a server.
	NoSync bool
}

// Open opens or creates the database at path. It returns an error wrapping
// ErrLocked if another process has it open, and ErrSchemaTooNew if a newer
// Hangar wrote it.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}

	db, err := openBolt(path, opts.LockTimeout)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w (is another hangar running on this data directory?)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.NoSync = opts.NoSync
	if opts.AccessLogCap <= 0 {
		opts.AccessLogCap = DefaultAccessLogCap
	}
	// Counted downloads share commits (group.go): one fsync carries the
	// accesses that arrived while the one before ran.
	s := &Store{db: db, group: &committer{db: db}, links: &linkMemo{}, now: opts.Now, log: opts.Logger, logCap: int64(opts.AccessLogCap), auditSink: opts.AuditSink}
	if err := guard(s.init); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ErrDamaged is returned for a database file that is truncated or not a
// database: bbolt would fault on it (it maps the file and trusts its pages).
var ErrDamaged = errors.New("the database file is damaged")

// checkFile refuses a database file that bbolt would crash on rather than
// refuse: one cut shorter than its meta page says (a copy interrupted, a
// full disk), or one with no valid meta page. A missing or empty file is
// a new database.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	damaged := func(why string, args ...any) error {
		return fmt.Errorf("store: %s: %w: %s; restore it from a backup (hangar restore)", path, ErrDamaged, fmt.Sprintf(why, args...))
	}
	// bbolt's meta pages: page 0 and page 1, each a 16-byte page header and
	// then magic, version, page size, flags, root bucket (16), freelist,
	// high-water page id, txid, and an FNV-64a checksum of what precedes it.
	var best struct{ pgid, txid, pageSize uint64 }
	valid := false
	for _, off := range []int64{0, -1} {
		if off < 0 {
			if best.pageSize == 0 {
				off = 4096
			} else {
				off = int64(best.pageSize)
			}
		}
		buf := make([]byte, 16+64)
		if _, err := f.ReadAt(buf, off); err != nil {
			continue
		}
		m := buf[16:]
		if binary.LittleEndian.Uint32(m[0:]) != 0xED0CDAED {
			continue
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
			continue
		}
		pageSize, pgid, txid := uint64(binary.LittleEndian.Uint32(m[8:])), binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:])
		if !valid || txid > best.txid {
			best.pgid, best.txid, best.pageSize = pgid, txid, pageSize
		}
		valid = true
	}
	switch {
	case !valid:
		return damaged("no valid meta page (not a Hangar database, or overwritten)")
	case best.pageSize < 512 || best.pageSize > 1<<20:
		return damaged("page size %d", best.pageSize)
	case uint64(fi.Size()) < best.pgid*best.pageSize:
		return damaged("%d bytes, but its pages reach %d (truncated)", fi.Size(), best.pgid*best.pageSize)
	}
	return nil
}

// openBolt is bolt.Open, with a page fault or an assertion of bbolt's on a
// damaged file turned into ErrDamaged instead of a crash.
func openBolt(path string, timeout time.Duration) (db *bolt.DB, err error) {
	err = guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
		return err
	})
	return db, err
}

// guard runs fn with memory faults made panics (bbolt reads the file
// through a memory map) and turns a panic into ErrDamaged.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrDamaged, p)
		}
	}()
	return fn()
}

// CheckPages walks every page of the database (bbolt's consistency check)
// and returns ErrDamaged with what it found wrong. It reads the whole file.
//
// Only while nothing else writes the database (hangar fsck with the server
// stopped): bbolt's checker compares what its transaction reaches with the
// database's current freelist, read without a lock, so a commit during the
// check makes it report reachable pages as freed (and races the writer).
// Checking a running server's database would take the write lock for the
// whole walk, or a copy of the file: both stall requests for seconds on a
// large database.
func (s *Store) CheckPages() error {
	return guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			var errs []error
			for err := range tx.Check() { // drained: the checker stops only at its end
				if len(errs) < 10 {
					errs = append(errs, err)
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("%w: %w", ErrDamaged, errors.Join(errs...))
			}
			return nil
		})
	})
}

// init creates missing buckets and brings the schema to SchemaVersion, all
// in one transaction: a failed migration changes nothing.
func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		v := meta.Get(keySchema)
		fresh := v == nil
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if fresh {
			return meta.Put(keySchema, u64(SchemaVersion))
		}
		got := binary.BigEndian.Uint64(v)
		if got > SchemaVersion {
			return fmt.Errorf("%w: schema version %d, this binary knows up to %d; upgrade hangar", ErrSchemaTooNew, got, SchemaVersion)
		}
		for ; got < SchemaVersion; got++ {
			s.log.Warn("migrating the database; keep the backup you made before upgrading", "from", got, "to", got+1)
			if err := migrations[got](tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", got, got+1, err)
			}
		}
		return meta.Put(keySchema, u64(SchemaVersion))
	})
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// SchemaVersion returns the version stored in the database.
func (s *Store) SchemaVersion() (uint64, error) {
	var v uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema))
		return nil
	})
	return v, err
}

// SetSchemaVersion overwrites the stored schema version. It exists for tests
// of upgrade and downgrade handling.
func (s *Store) SetSchemaVersion(v uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, u64(v))
	})
}

// Writable reports whether a write transaction can commit now (for /readyz).
func (s *Store) Writable() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("last_ready_check"), []byte(s.now().UTC().Format(time.RFC3339)))
	})
}

// NewID returns a random, URL-safe identifier of 128 bits (22 characters). Its
// length alone keeps it from ever equalling a route word such as "file".
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// key joins the parts of a secondary index key. IDs and slugs never contain
// '/', so the separator keeps prefix scans exact.
func key(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// get decodes the JSON value at k into v, or returns ErrNotFound.
func get(b *bolt.Bucket, k []byte, v any) error {
	data := b.Get(k)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func put(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

// forEachPrefix calls fn with the suffix of every key in b that starts with
// prefix+"/", in key order, until fn returns false.
func forEachPrefix(b *bolt.Bucket, prefix string, fn func(suffix, value []byte) bool) {
	p := key(prefix, "")
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if !fn(k[len(p):], v) {
			return
		}
	}
}

// list decodes the records of bucket data named by ids, in the order ids
// yields them: the one shape of every list of records (all of a bucket,
// or those an index names).
func list[T any](tx *bolt.Tx, data []byte, ids iter.Seq[[]byte]) ([]T, error) {
	b := tx.Bucket(data)
	var out []T
	for id := range ids {
		var v T
		if err := get(b, id, &v); err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// keys yields the keys of a bucket, in order.
func keys(b *bolt.Bucket) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		c := b.Cursor()
		for k, _ := c.First(); k != nil && yield(k); k, _ = c.Next() {
		}
	}
}

// values yields the values of an index bucket (IDs), in key order.
func values(b *bolt.Bucket) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		c := b.Cursor()
		for k, v := c.First(); k != nil && yield(v); k, v = c.Next() {
		}
	}
}

// prefixed yields, for the keys of an index under prefix, the key's
// suffix (bySuffix) or its value (the ID the index names).
func prefixed(b *bolt.Bucket, prefix string, bySuffix bool) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		forEachPrefix(b, prefix, func(suffix, v []byte) bool {
			if bySuffix {
				return yield(suffix)
			}
			return yield(v)
		})
	}
}

// Backup calls fn inside one read transaction with the database's size, a
// function that writes a consistent copy of it (size bytes), and the
// checksums of every blob that copy refers to. Writers go on meanwhile; keep
// fn short (copy the database, not the blobs), because bbolt cannot grow its
// file while a read transaction is open.
func (s *Store) Backup(fn func(size int64, writeTo func(io.Writer) (int64, error), blobs []string) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		var sums []string
		tx.Bucket(bucketBlobRefs).ForEach(func(k, _ []byte) error {
			sums = append(sums, string(k))
			return nil
		})
		return fn(tx.Size(), tx.WriteTo, sums)
	})
}

// Stats are figures for monitoring, read in one transaction.
type Stats struct {
	Workspaces    []Workspace
	LinkDownloads int64 // downloads through any link, ever
	ActiveLinks   int   // links not deactivated (expired ones included)
	Blobs         int   // distinct referenced blobs
	DBSize        int64
}

// Stats reads the monitoring figures.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		st.DBSize = tx.Size()
		// Counters, not scans: a scrape costs the same at any size.
		meta := tx.Bucket(bucketMeta)
		st.Blobs = int(readCount(meta, countBlobs))
		st.LinkDownloads = readCount(meta, countLinkDownloads)
		st.ActiveLinks = int(readCount(meta, countLinksActive))
		ws := tx.Bucket(bucketWorkspaces)
		return ws.ForEach(func(k, _ []byte) error { // one row per workspace: admins make them
			var w Workspace
			if err := get(ws, k, &w); err != nil {
				return err
			}
			st.Workspaces = append(st.Workspaces, w)
			return nil
		})
	})
	return st, err
}

// Contents reports whether the database holds any workspace and any file:
// a database without either beside a blob directory that is not empty was
// lost or replaced, not started afresh.
func (s *Store) Contents() (workspaces, files bool, err error) {
	err = guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketWorkspaces).Cursor().First()
			workspaces = k != nil
			k, _ = tx.Bucket(bucketFiles).Cursor().First()
			files = k != nil
			return nil
		})
	})
	return workspaces, files, err
}

// deletePrefix deletes every key of b under prefix+"/".
func deletePrefix(b *bolt.Bucket, prefix string) error {
	var dead [][]byte
	forEachPrefix(b, prefix, func(suffix, _ []byte) bool {
		dead = append(dead, key(prefix, string(suffix)))
		return true
	})
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
