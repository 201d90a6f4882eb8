package cli

import (
	"fmt"
	"io"

	"hangar/config"
	"hangar/depot"
	"hangar/fsck"
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
	var r struct {
		Files, Blobs, Problems int
		Findings               []fsck.Finding
		PagesChecked           bool
		Warnings               []string
	}
	// fsck checks for a lost database itself (-force looks anyway).
	err := c.localOrRemote(depot.Options{SkipDatabaseCheck: true}, rem, func(d *depot.Depot) error {
		rep, err := fsck.Run(d, opts)
		r.Files, r.Blobs, r.Problems, r.Findings, r.PagesChecked, r.Warnings = rep.Files, rep.Blobs, rep.Problems(), rep.Findings, rep.PagesChecked, rep.Warnings
		return err
	}, func(rem remote, cfg config.Config) error {
		return rem.call(cfg, "POST", "/api/v1/admin/fsck", map[string]bool{"verify": opts.Verify, "repair": opts.Repair, "force": opts.Force}, &r)
	})
	if err != nil {
		return runAdmin(stderr, err)
	}
	if !r.PagesChecked {
		fmt.Fprintln(stdout, "note: the server is running, so the database's pages were not walked; stop it and run hangar fsck for that check")
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if printFsck(stdout, r.Findings, r.Files, r.Blobs, r.Problems) > 0 {
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
