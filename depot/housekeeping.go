package depot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"hangar/pace"
	"hangar/store"
)

// Start starts the background work of a running instance: the processing
// workers (picking up builds a previous run left in_progress) and the
// housekeeping loop (retention and gc at start, then every hour). It all
// stops when ctx is done; wait returns once it has (a worker finishes the
// package it is reading; the rest stay queued in the store).
func (d *Depot) Start(ctx context.Context) (wait func(), err error) {
	processed, err := d.StartProcessing(ctx)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.housekeeping(ctx, time.Hour)
	}()
	return func() { processed(); wg.Wait() }, nil
}

// Enqueue hands a build in_progress to the processing workers (an upload
// does it itself; a build queued in the store by other means needs it).
func (d *Depot) Enqueue(id string) { d.work.push(id) }

// retentionBatch is how many builds retention deletes per look at the
// index; retentionTxTime bounds the time of one of its transactions.
const (
	retentionBatch  = 256
	retentionTxTime = 4 * time.Millisecond
)

// deleteBuilds deletes the first of builds, as many as one transaction of
// retentionTxTime holds, as one background batch, and removes the blobs
// they leave unused. It returns how many it deleted.
func (d *Depot) deleteBuilds(builds []store.Build) (int, error) {
	ids := make([]string, len(builds))
	for i, b := range builds {
		ids[i] = b.ID
	}
	var n int
	err := pace.Batch(func() error {
		var unused []string
		var err error
		if n, unused, err = d.store.DeleteBuilds(ids, retentionTxTime); err == nil {
			d.removeBlobs(unused...)
		}
		return err
	})
	return n, err
}

// ApplyRetention deletes, in every project, the builds its retention (or
// the configured default) no longer keeps, and returns how many it deleted.
// Builds still being uploaded or processed are left alone.
func (d *Depot) ApplyRetention() (int, error) {
	projects, err := d.store.AllProjects()
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, p := range projects {
		keep, maxAge := d.cfg.KeepBuilds, d.cfg.MaxBuildAge
		if p.Retention != nil {
			keep, maxAge = p.Retention.KeepBuilds, time.Duration(p.Retention.MaxAgeSeconds)*time.Second
		}
		if keep == 0 && maxAge == 0 {
			continue
		}
		var cutoff time.Time
		if maxAge > 0 {
			cutoff = d.now().Add(-maxAge)
		}
		for {
			// In batches: memory stays bounded whatever the project holds,
			// and each batch is found by seeking the project's index.
			batch, err := d.store.Expired(p.ID, keep, cutoff, retentionBatch)
			if err != nil || len(batch) == 0 {
				if err != nil {
					return deleted, err
				}
				break
			}
			for len(batch) > 0 {
				// Several builds a transaction (one fsync), as many as
				// retentionTxTime allows, taken as a background batch:
				// requests get the write lock, the disk and the processors
				// between them.
				n, err := d.deleteBuilds(batch)
				if err != nil {
					return deleted, fmt.Errorf("retention: %w", err)
				}
				for _, b := range batch[:n] {
					deleted++
					d.log.Info("retention deleted a build", "project", p.Slug, "build", b.ID, "version", b.VersionName,
						"created", b.CreatedAt, "keep_builds", keep, "max_age", maxAge)
				}
				batch = batch[n:]
			}
		}
	}
	return deleted, nil
}

// GC removes used or expired download tokens, expired sessions, access
// log entries past access_log_retention, and audit log entries past
// [audit]'s limits.
func (d *Depot) GC() (store.GCResult, error) {
	var before time.Time
	if d.cfg.AccessLogRetention > 0 {
		before = d.now().Add(-d.cfg.AccessLogRetention)
	}
	res, err := d.store.GC(before)
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	// The audit log's retention, in bounded transactions: a first run
	// on a long log must not hold the writer for long.
	for {
		n, err := d.store.PruneAuditLog(d.cfg.Audit.MaxAge, d.cfg.Audit.MaxEntries, 10000)
		if err != nil {
			return res, fmt.Errorf("gc: audit log: %w", err)
		}
		if res.AuditLog += n; n < 10000 {
			break
		}
	}
	// App Center's uploads past their day: their staged blocks, then
	// their records (those that became builds have no blocks left).
	for {
		ups, err := d.store.ExpiredReleaseUploads(100)
		if err != nil {
			return res, fmt.Errorf("gc: release uploads: %w", err)
		}
		for _, u := range ups {
			if err := d.Staging().Remove(context.Background(), u.AssetID); err != nil {
				return res, fmt.Errorf("gc: release upload %s: %w", u.ID, err)
			}
			if err := d.store.DeleteReleaseUpload(u.ID); err != nil {
				return res, fmt.Errorf("gc: release upload %s: %w", u.ID, err)
			}
			res.ReleaseUploads++
		}
		if len(ups) < 100 {
			break
		}
	}
	if res != (store.GCResult{}) {
		d.log.Info("gc", "download_tokens", res.DownloadTokens, "sessions", res.Sessions, "access_log_entries", res.AccessLog, "audit_log_entries", res.AuditLog,
			"install_records", res.Installs, "release_uploads", res.ReleaseUploads)
	}
	return res, nil
}

// housekeeping runs retention and gc at start and then every interval,
// until ctx is done.
func (d *Depot) housekeeping(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := d.ApplyRetention(); err != nil {
			d.log.Error("retention", "err", err)
		}
		if _, err := d.GC(); err != nil {
			d.log.Error("gc", "err", err)
		}
		if d.remote != nil {
			// Temporary objects and unfinished uploads of a crashed
			// process; a day leaves any upload in flight alone.
			if n, err := d.remote.CleanTemp(ctx, 24*time.Hour); err != nil {
				d.log.Error("gc: s3 temporary objects", "err", err)
			} else if n > 0 {
				d.log.Info("gc: removed s3 temporary objects", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
