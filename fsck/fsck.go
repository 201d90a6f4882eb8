// Package fsck checks that Hangar's metadata and blob directory agree:
// every file has its blob with the right size (and, with Verify, the right
// SHA-256), every blob is referenced, the stored reference counts and
// workspace storage totals match the files, no active link points at a
// missing file and no token at a missing owner. With Repair it removes
// orphan blobs, rewrites the counters, deactivates dangling links and
// deletes orphan tokens; it never touches a file row.
package fsck

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"hangar/blob"
	"hangar/certs"
	"hangar/depot"
	"hangar/pace"
)

// Options select the checks and repairs.
type Options struct {
	Verify bool // rehash every blob, not only compare sizes
	Repair bool // remove orphan blobs and fix counters
	// Force runs on a database that has no file beside blobs on disk, and
	// lets a repair remove more than MaxOrphanShare of the blobs.
	Force bool
	// Live says the check runs inside a serving process (the admin API):
	// bbolt's page walk is left out, because it cannot run beside commits
	// (see store.CheckPages); Report.PagesChecked says so.
	Live bool
}

// MaxOrphanShare is the share of the blobs on disk a repair removes as
// orphans without Force (when there are more than a few): orphans are what
// a crash leaves between writing a blob and committing its file, a handful
// at a time. Many more mean the database lost files the blobs still hold.
const MaxOrphanShare = 0.10

// Finding is one thing fsck reports.
type Finding struct {
	// Problem is true for an inconsistency (a file without its blob, a
	// wrong count); false for an orphan blob, which a crash between writing
	// a blob and recording it leaves by design and which costs only space.
	Problem bool   `json:"problem"`
	Message string `json:"message"`
	// Repaired says that Repair fixed it.
	Repaired bool `json:"repaired"`
}

// Report is the result of a check.
type Report struct {
	Files, Blobs int
	Findings     []Finding
	// PagesChecked says bbolt's walk of every database page ran (not in
	// a Live check).
	PagesChecked bool
	// Warnings need an admin's attention but are not inconsistencies: a
	// local CA or server certificate near or past its expiry.
	Warnings []string
}

// Problems counts the findings that are inconsistencies and were not
// repaired.
func (r Report) Problems() int {
	n := 0
	for _, f := range r.Findings {
		if f.Problem && !f.Repaired {
			n++
		}
	}
	return n
}

// Run checks the depot's database against its blobs. The caller must hold the data directory (the
// server stopped, or the check running inside it) for the answer to mean
// anything: uploads in flight would look like orphans.
//
// Memory does not grow with the number of files: the checksum index and the
// blob directory are both ordered by hash, so the check takes them one
// shard (of 256) at a time, and keeps only totals per workspace and what is
// wrong.
func Run(d *depot.Depot, o Options) (Report, error) {
	r, err := run(d, o, false)
	r.Warnings = certs.Expiring(d.DataDir(), time.Now())
	return r, err
}

func run(d *depot.Depot, o Options, indexRebuilt bool) (Report, error) {
	var r Report
	st, blobs, ctx := d.Store(), d.Backend(), context.Background()
	if !o.Live {
		if err := st.CheckPages(); err != nil {
			return r, err
		}
		r.PagesChecked = true
	}
	if !o.Force {
		if err := d.CheckDatabase(); err != nil {
			return r, err
		}
	}
	audit, err := st.Audit()
	if err != nil {
		return r, err
	}
	used := map[string]int64{}
	for id := range audit.StorageUsed {
		used[id] = 0
	}
	var (
		projects  = map[string]string{}
		fixRefs   = map[string]int64{} // checksum → the count its files make, where the stored one is wrong
		orphans   []blob.Ref
		orphanLen = map[blob.Ref]int64{}
		badIndex  bool
	)
	for i := range 256 {
		check := func() error {
			shard := fmt.Sprintf("%02x", i)
			sa, err := st.AuditShard(shard, projects)
			if err != nil {
				return err
			}
			onDisk := map[blob.Ref]int64{}
			if err := blobs.WalkShard(ctx, shard, func(ref blob.Ref, size int64) error {
				onDisk[ref] = size
				return nil
			}); err != nil {
				return fmt.Errorf("walk blobs: %w", err)
			}
			r.Files += len(sa.Files)
			r.Blobs += len(onDisk)
			for _, k := range sa.BadIndex {
				badIndex = true
				r.add(true, o.Repair, "checksum index entry %s names no file with that checksum", k)
			}
			refs := map[string]int64{}
			verified := map[blob.Ref]bool{}
			var w pace.Worker
			for _, f := range sa.Files {
				w.Step()
				refs[f.Checksum]++
				used[f.WorkspaceID] += f.Size
				ref, err := blob.ParseRef(f.Checksum)
				if err != nil {
					r.add(true, false, "file %s (%s): malformed checksum %q", f.ID, f.Name, f.Checksum)
					continue
				}
				size, ok := onDisk[ref]
				switch {
				case !ok:
					r.add(true, false, "file %s (%s): blob %s is missing", f.ID, f.Name, ref)
				case size != f.Size:
					r.add(true, false, "file %s (%s): blob %s has %d bytes, the file %d", f.ID, f.Name, ref, size, f.Size)
				case o.Verify && !verified[ref]:
					verified[ref] = true
					sum, err := blobs.Sum(ctx, ref)
					if err != nil {
						return err
					}
					if sum != ref {
						r.add(true, false, "file %s (%s): blob %s has content with SHA-256 %s", f.ID, f.Name, ref, sum)
					}
				}
			}
			for ref, size := range onDisk {
				if refs[ref.String()] == 0 {
					orphans = append(orphans, ref)
					orphanLen[ref] = size
				}
			}
			for _, sum := range sortedKeys(refs, sa.Refs) {
				if refs[sum] != sa.Refs[sum] {
					fixRefs[sum] = refs[sum]
					r.add(true, o.Repair, "blob %s: reference count %d, but %d files use it", sum, sa.Refs[sum], refs[sum])
				}
			}
			return nil
		}
		// Beside a running server a shard is a background batch: one at
		// a time with gc and retention, resting as long as it took.
		var err error
		if o.Live {
			err = pace.Batch(check)
		} else {
			err = check()
		}
		if err != nil {
			return r, err
		}
	}
	if audit.Files != audit.Indexed {
		badIndex = true
		r.add(true, o.Repair, "the checksum index has %d entries for %d files", audit.Indexed, audit.Files)
	}
	if badIndex && o.Repair && !indexRebuilt {
		// Every per-file finding above came through the index: rebuild it
		// and check again, reporting what was wrong with it first.
		if err := st.RebuildChecksumIndex(); err != nil {
			return r, fmt.Errorf("repair the checksum index: %w", err)
		}
		again, err := run(d, o, true)
		again.Findings = append(r.indexFindings(), again.Findings...) // marked repaired: o.Repair
		return again, err
	}

	slices.SortFunc(orphans, func(a, b blob.Ref) int { return slices.Compare(a[:], b[:]) })
	tooMany := len(orphans) > 10 && float64(len(orphans)) > MaxOrphanShare*float64(r.Blobs)
	if o.Repair && tooMany && !o.Force {
		r.add(true, false, "%d of %d blobs are orphans: not removed without -force (more than %d%% suggests a database that lost files, not a crash); restore the database from a backup",
			len(orphans), r.Blobs, int(MaxOrphanShare*100))
	}
	for _, ref := range orphans {
		repaired := false
		if o.Repair && (!tooMany || o.Force) {
			// Under the blob's lock and with a fresh look at the counts: a
			// server running the check may be storing this content now.
			removed, err := d.RemoveBlobIfUnused(ref)
			if err != nil {
				return r, err
			}
			repaired = removed
		}
		r.add(false, repaired, "orphan blob %s (%d bytes), referenced by no file", ref, orphanLen[ref])
	}

	fixUsed := map[string]int64{}
	for _, id := range sortedKeys(used, audit.StorageUsed) {
		if used[id] != audit.StorageUsed[id] {
			fixUsed[id] = used[id]
			r.add(true, o.Repair, "workspace %s: storageUsed %d, but its files total %d", audit.Slugs[id], audit.StorageUsed[id], used[id])
		}
	}
	for _, id := range audit.DanglingLinks {
		repaired := false
		if o.Repair {
			if err := st.DeactivateLink(id); err != nil {
				return r, err
			}
			repaired = true
		}
		r.add(true, repaired, "public link %s is active but its file is gone", id)
	}
	for _, prefix := range audit.OrphanTokens {
		repaired := false
		if o.Repair {
			if _, err := st.RevokeTokenByPrefix(prefix); err != nil {
				return r, err
			}
			repaired = true
		}
		r.add(true, repaired, "token %s belongs to an owner that no longer exists", prefix)
	}
	if audit.Counts != audit.CountsFound || audit.BuildCountsWrong {
		repaired := false
		if o.Repair {
			if err := st.RepairCounts(); err != nil {
				return r, fmt.Errorf("repair totals: %w", err)
			}
			repaired = true
		}
		if audit.Counts != audit.CountsFound {
			r.add(true, repaired, "monitoring totals are %+v, but the data says %+v", audit.Counts, audit.CountsFound)
		}
		if audit.BuildCountsWrong {
			r.add(true, repaired, "the counted build index (paging by number) disagrees with the builds")
		}
	}
	if !o.Repair {
		return r, nil
	}
	if len(fixRefs) > 0 {
		if err := st.SetRefCounts(fixRefs); err != nil {
			return r, fmt.Errorf("repair reference counts: %w", err)
		}
	}
	if len(fixUsed) > 0 {
		if err := st.SetStorageUsed(fixUsed); err != nil {
			return r, fmt.Errorf("repair storageUsed: %w", err)
		}
	}
	return r, nil
}

// indexFindings are the findings about the checksum index itself, which a
// check after its rebuild no longer makes.
func (r Report) indexFindings() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if strings.Contains(f.Message, "checksum index") {
			out = append(out, f)
		}
	}
	return out
}

func (r *Report) add(problem, repaired bool, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Problem: problem, Repaired: repaired, Message: fmt.Sprintf(format, args...)})
}

func sortedKeys(maps ...map[string]int64) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}
