package depot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"hangar/blob"
	"hangar/pkginfo"
	"hangar/store"
)

// Build processing: a build whose package is an IPA, APK or AAB is stored
// in_progress and read in the background by a bounded pool of workers, which
// record its metadata and icon and set it processed, or error with the
// reason. The queue's truth is the store (builds in_progress are indexed in
// the transaction that sets the status); the in-memory queue only wakes the
// workers, and StartProcessing refills it from the store after a restart.

// workQueue is a FIFO of build IDs, without duplicates.
type workQueue struct {
	mu     sync.Mutex
	ids    []string
	queued map[string]bool
	wake   chan struct{}
}

func newWorkQueue(workers int) *workQueue {
	// One wake token per worker, so that a burst of uploads wakes them all.
	return &workQueue{queued: make(map[string]bool), wake: make(chan struct{}, workers)}
}

func (q *workQueue) push(id string) {
	q.mu.Lock()
	if !q.queued[id] {
		q.queued[id] = true
		q.ids = append(q.ids, id)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *workQueue) pop() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ids) == 0 {
		return "", false
	}
	id := q.ids[0]
	q.ids = q.ids[1:]
	delete(q.queued, id)
	return id, true
}

func (q *workQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ids)
}

// StartProcessing starts processing_workers workers and queues the builds a
// previous run left in_progress: Start without the housekeeping loop. The
// workers stop when ctx is done, after the package each is reading; wait
// returns once they have.
func (d *Depot) StartProcessing(ctx context.Context) (wait func(), err error) {
	ids, err := d.store.ProcessingQueue()
	if err != nil {
		return nil, fmt.Errorf("read the processing queue: %w", err)
	}
	if len(ids) > 0 {
		d.log.Info("resuming build processing", "builds", len(ids))
	}
	for _, id := range ids {
		d.work.push(id)
	}
	var wg sync.WaitGroup
	for range max(d.cfg.ProcessingWorkers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.processLoop(ctx)
		}()
	}
	return wg.Wait, nil
}

func (d *Depot) processLoop(ctx context.Context) {
	for ctx.Err() == nil {
		id, ok := d.work.pop()
		if !ok {
			select {
			case <-ctx.Done():
			case <-d.work.wake:
			}
			continue
		}
		d.process(id)
	}
}

// maxProcessingAttempts is how many reads of one package may start without
// finishing (the process was killed) before the build ends in error.
const maxProcessingAttempts = 2

// process reads one build's package and records the outcome. A broken
// package ends the build in status error; it never stops the worker.
func (d *Depot) process(id string) {
	start, began := time.Now(), d.now()
	b, err := d.store.Build(id)
	if err != nil || b.Status != store.BuildInProgress {
		return // deleted, or finished by another worker
	}
	log := d.log.With("build", id)
	files, err := d.store.Files(id)
	if err != nil {
		log.Error("processing: read files", "err", err)
		return // stays queued in the store: the next start retries it
	}
	var (
		info    pkginfo.Info
		readErr error
	)
	earlier, err := d.store.BeginProcessing(id)
	if err != nil {
		log.Error("processing: count the attempt", "err", err)
		return // stays queued: the next start retries it
	}
	pkg, ok := FileOfType(files, store.FilePackage)
	switch {
	case earlier >= maxProcessingAttempts:
		// The process died while reading this package, twice: a package
		// that kills the server must not do so at every start.
		readErr = fmt.Errorf("processing did not finish twice (the server stopped while reading %s); it is not tried again", pkg.Name)
		log.Error("processing: not retried", "file", pkg.Name, "attempts", earlier)
	case ok:
		info, readErr = d.readWithin(pkg)
	default:
		readErr = errors.New("the package was deleted before it could be read")
	}
	// Counted before the result is recorded, so that whoever sees the
	// build finished also sees it counted.
	if readErr != nil {
		d.counters.failed.Add(1)
	} else {
		d.counters.processed.Add(1)
	}
	finish := func(b *store.Build) {
		b.ProcessStartedAt, b.ProcessedAt = began.UTC(), d.now().UTC()
		if readErr != nil {
			b.Status, b.ProcessingError = store.BuildError, readErr.Error()
			return
		}
		applyInfo(b, info)
	}
	recorded := false // FinishProcessing ran (whatever its outcome)
	if readErr == nil && info.Icon != nil {
		_, err = d.backend.Put(context.Background(), bytes.NewReader(info.Icon.Data), 0, func(bi blob.Info) error {
			recorded = true
			_, _, err := d.store.FinishProcessing(id, finish, &store.File{
				Type: store.FileIcon, Name: "icon" + iconExt(info.Icon.MimeType), Extension: strings.TrimPrefix(iconExt(info.Icon.MimeType), "."),
				MimeType: info.Icon.MimeType, Size: bi.Size, Checksum: bi.Ref.String(),
			})
			return err
		})
		if err != nil && !recorded {
			// The icon could not be written (a full disk): the build is
			// still read, and must not stay in_progress until a restart.
			log.Error("processing: store the icon", "err", err)
			info.Notes = append(info.Notes, "the icon could not be stored")
		}
	}
	if !recorded {
		_, _, err = d.store.FinishProcessing(id, finish, nil)
	}
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotInProgress):
		log.Info("processing: build deleted or finished meanwhile")
	case err != nil:
		log.Error("processing: record the result", "err", err)
	case readErr != nil:
		log.Info("build processing failed", "file", pkg.Name, "reason", readErr)
	default:
		log.Info("build processed", "file", pkg.Name, "took", time.Since(start).Round(time.Millisecond))
	}
}

func iconExt(mimeType string) string {
	if mimeType == "image/webp" {
		return ".webp"
	}
	return ".png"
}

// readTimeout bounds the reading of one package. Reading is bounded in
// bytes, so this only trips on a parser bug (an endless loop on a crafted
// file): the worker then gives up on that package and moves on.
const readTimeout = 2 * time.Minute

// readWithin runs d.readPkg with d.readTimeout. A read that does not end
// is abandoned: its goroutine cannot be stopped and runs on, but the
// worker is free for the builds behind it, and the build ends in error.
func (d *Depot) readWithin(pkg store.File) (pkginfo.Info, error) {
	type result struct {
		info pkginfo.Info
		err  error
	}
	done := make(chan result, 1) // buffered: an abandoned read can still finish
	go func() {
		info, err := d.readPkg(pkg)
		done <- result{info, err}
	}()
	t := time.NewTimer(d.readTimeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.info, r.err
	case <-t.C:
		d.log.Error("processing: reading a package did not end; abandoned (a parser bug: please report it with the file)",
			"file", pkg.ID, "after", d.readTimeout)
		return pkginfo.Info{}, fmt.Errorf("%s: reading the package took longer than %v", pkg.Name, d.readTimeout)
	}
}

// packageReader is what reading a package needs: random access.
type packageReader interface {
	io.ReaderAt
	io.Closer
}

// openPackage opens a stored package for random access: the local file,
// or the bucket's object read in cached blocks (see blockReader).
func (d *Depot) openPackage(pkg store.File) (packageReader, error) {
	if d.remote == nil {
		return d.OpenFile(pkg)
	}
	r, err := d.OpenRemoteFile(context.Background(), pkg)
	if err != nil {
		return nil, err
	}
	ra, ok := r.(io.ReaderAt)
	if !ok {
		r.Close()
		return nil, fmt.Errorf("file %s: the bucket's reader has no ReadAt", pkg.ID)
	}
	return newBlockReader(ra, r, pkg.Size), nil
}

// readPackage reads a stored package. Its error is for the uploader: it
// ends up in the build's processingError.
func (d *Depot) readPackage(pkg store.File) (pkginfo.Info, error) {
	f, err := d.openPackage(pkg) // refuses (and counts) a blob of the wrong size
	if err != nil {
		d.log.Error("processing: open package", "file", pkg.ID, "err", err)
		return pkginfo.Info{}, errors.New("the stored package could not be read (see the server log)")
	}
	defer f.Close()
	info, err := pkginfo.Read(f, pkg.Size, pkg.Name, pkginfo.DefaultLimits)
	if err != nil && !errors.Is(err, pkginfo.ErrInvalid) {
		d.log.Error("processing: read package", "file", pkg.ID, "err", err)
		return info, errors.New("the stored package could not be read (see the server log)")
	}
	if err != nil {
		return info, fmt.Errorf("%s: %s", pkg.Name, strings.TrimPrefix(err.Error(), pkginfo.ErrInvalid.Error()+": "))
	}
	return info, nil
}

// applyInfo records what the package says. Version fields given with the
// upload (versionName, versionCode; version, buildNumber) stay the build's
// labels, what the uploader chose to show; the package's own version is
// kept beside them (PackageVersion, PackageBuild) for what a phone reads.
func applyInfo(b *store.Build, info pkginfo.Info) {
	b.Status = store.BuildProcessed
	b.OS, b.AppName, b.BundleID, b.MinOS, b.TargetSDK = info.OS, info.AppName, info.BundleID, info.MinOS, info.TargetSDK
	b.PackageVersion, b.PackageBuild = info.Version, info.Build
	if b.VersionName == "" {
		b.VersionName = info.Version
	}
	if b.VersionCode == "" {
		b.VersionCode = info.Build
	}
	if p := info.Profile; p != nil {
		b.Profile = &store.Provisioning{Name: p.Name, Team: p.Team, TeamID: p.TeamID, Expires: p.Expires, Created: p.Created, Type: p.Type, Devices: p.Devices, DeviceIDs: p.DeviceIDs}
	}
	b.ProcessingNotes = info.Notes
}
