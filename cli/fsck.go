package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"hangar/depot"
	"hangar/fsck"
	"hangar/store"
)

// cmdFsck checks the data directory (see package fsck), itself or through a
// running server. Exit status 1 while inconsistencies remain.
func cmdFsck(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("fsck", nil, stdout, stderr)
	verify := c.fs.Bool("verify", false, "rehash every blob (reads all data), not only compare sizes")
	repair := c.fs.Bool("repair", false, "remove orphan blobs and fix reference counts and storage totals")
	force := c.fs.Bool("force", false, "run on a database with no file beside blobs, and let -repair remove more than 10% of the blobs")
	rem := c.remoteFlags()
	if err := c.parse(args, 0, ""); err != nil {
		return runAdmin(stderr, err)
	}
	opts := fsck.Options{Verify: *verify, Repair: *repair, Force: *force}
	var (
		findings            []fsck.Finding
		files, blobs, probs int
	)
	// fsck checks for a lost database itself (-force looks anyway).
	d, cfg, err := c.openLocal(depot.Options{SkipDatabaseCheck: true})
	switch {
	case err == nil:
		defer d.Close()
		rep, err := fsck.Run(d, opts)
		if err != nil {
			return runAdmin(stderr, err)
		}
		findings, files, blobs, probs = rep.Findings, rep.Files, rep.Blobs, rep.Problems()
	case errors.Is(err, store.ErrLocked):
		resp, err := rem.do(cfg, "POST", "/api/v1/admin/fsck", map[string]bool{"verify": opts.Verify, "repair": opts.Repair, "force": opts.Force})
		if err != nil {
			return runAdmin(stderr, err)
		}
		defer resp.Body.Close()
		var r struct {
			Files, Blobs, Problems int
			Findings               []fsck.Finding
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return runAdmin(stderr, fmt.Errorf("fsck answer: %w", err))
		}
		findings, files, blobs, probs = r.Findings, r.Files, r.Blobs, r.Problems
	default:
		return runAdmin(stderr, err)
	}
	if printFsck(stdout, findings, files, blobs, probs) > 0 {
		return exitFailure
	}
	return exitOK
}

// printFsck prints one line per finding and a summary, and returns the
// number of problems.
func printFsck(w io.Writer, findings []fsck.Finding, files, blobs, problems int) int {
	orphans := 0
	for _, f := range findings {
		kind := "problem"
		if !f.Problem {
			kind = "orphan"
			orphans++
		}
		if f.Repaired {
			kind += " (repaired)"
		}
		fmt.Fprintf(w, "%s: %s\n", kind, f.Message)
	}
	fmt.Fprintf(w, "%d files, %d blobs: %d problems, %d orphan blobs\n", files, blobs, problems, orphans)
	return problems
}
