package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"hangar/backup"
	"hangar/config"
	"hangar/depot"
	"hangar/fsck"
	"hangar/store"
)

// Operations commands. bbolt lets one process open the database, so each of
// backup, fsck and gc works on the data directory when no server runs, and
// through the server's admin endpoints (with an instance admin token) when
// one does. restore only ever writes a new, empty directory.

// remote is how a command reaches a running server.
type remote struct{ url, token *string }

func (c *adminCmd) remoteFlags() remote {
	return remote{
		url:   c.fs.String("url", "", "base `URL` of the running server (default: public_url from the config)"),
		token: c.fs.String("token", "", "instance admin `token` for a running server (default: $HANGAR_TOKEN, which keeps it out of ps)"),
	}
}

// do sends a request to the running server and returns the response when it
// succeeded; the caller closes its body.
func (r remote) do(cfg config.Config, method, path string, body any) (*http.Response, error) {
	base, token := *r.url, *r.token
	if base == "" {
		base = cfg.PublicURL
	}
	if token == "" {
		token = os.Getenv("HANGAR_TOKEN")
	}
	if token == "" {
		return nil, errors.New("the server is running and holds the database: give an instance admin token in HANGAR_TOKEN (or -token) to do this through it")
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the database is in use, and the server at %s cannot be reached: %w", base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s %s: the server answered %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return resp, nil
}

// cmdBackup writes a consistent backup tar, offline or from a running server.
func cmdBackup(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("backup", nil, stdout, stderr)
	out := c.fs.String("o", "", "write the backup to `FILE` (- for standard output)")
	rem := c.remoteFlags()
	err := c.parse(args, 0, "-o FILE.tar")
	if err == nil && *out == "" {
		c.fs.Usage()
		err = errUsage
	}
	if err == nil {
		err = c.backup(*out, rem)
	}
	return runAdmin(stderr, err)
}

func (c *adminCmd) backup(out string, rem remote) (err error) {
	var w io.Writer = c.stdout
	if out != "-" {
		// Into a temp file renamed at the end: a failed backup never looks
		// like a good one.
		// Assign, not :=, so that the deferred check sees the function's
		// result (a shadowed err here once made failed backups look good).
		var f *os.File
		if f, err = os.OpenFile(out+".partial", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer func() {
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(out+".partial", out)
			} else {
				os.Remove(out + ".partial")
			}
		}()
		w = f
	}
	d, cfg, err := c.openLocal(depot.Options{})
	switch {
	case err == nil:
		defer d.Close()
		return backup.Write(w, d)
	case errors.Is(err, store.ErrLocked):
		resp, err := rem.do(cfg, "GET", "/api/v1/admin/backup", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("backup from the server broke off: %w", err)
		}
		return nil
	}
	return err
}

// cmdRestore unpacks a backup into a new data directory.
func cmdRestore(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newAdminCmd("restore", stdin, stdout, stderr)
	data := c.fs.String("data", "", "the new data `DIR` (must be missing or empty; default: data_dir from the config)")
	// Flags may come before or after FILE.tar.
	err := c.fs.Parse(args)
	var file string
	if err == nil && c.fs.NArg() > 0 {
		file = c.fs.Arg(0)
		err = c.fs.Parse(c.fs.Args()[1:])
	}
	if err != nil || file == "" || c.fs.NArg() > 0 {
		fmt.Fprintln(stderr, "Usage: hangar restore FILE.tar [-data DIR] [-config FILE]")
		c.fs.PrintDefaults()
		return exitUsage
	}
	return runAdmin(stderr, c.restore(file, *data))
}

func (c *adminCmd) restore(file, dir string) error {
	if dir == "" {
		cfg, err := c.config()
		if err != nil {
			return err
		}
		dir = cfg.DataDir
	}
	var r io.Reader = c.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := backup.Restore(r, dir)
	if err != nil {
		return err
	}
	for _, m := range rep.Mismatches {
		fmt.Fprintf(c.stdout, "problem: blob %s in the backup does not match its SHA-256; not restored\n", m)
	}
	// Open it as the server would (migrating an older schema) and check it.
	d, err := depot.Open(dir, depot.Options{SkipDatabaseCheck: true})
	if err != nil {
		return err
	}
	defer d.Close()
	// A backup of an instance that had lost its database (or never had
	// data) restores nothing worth having, and would hide that.
	if ws, files, err := d.Store().Contents(); err != nil {
		return err
	} else if !ws && !files {
		return fmt.Errorf("the backup's database is empty (no workspace, no file): it is not a backup of the data you want; %s holds what was restored: remove it", dir)
	}
	fr, err := fsck.Run(d, fsck.Options{})
	if err != nil {
		return err
	}
	problems := printFsck(c.stdout, fr.Findings, fr.Files, fr.Blobs, fr.Problems())
	fmt.Fprintf(c.stdout, "restored %d blobs into %s\n", rep.Blobs, dir)
	if problems > 0 || len(rep.Mismatches) > 0 {
		return fmt.Errorf("the restored data directory has %d problems and %d damaged blobs", problems, len(rep.Mismatches))
	}
	return nil
}

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

// cmdGC removes expired tokens and old access log entries.
func cmdGC(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("gc", nil, stdout, stderr)
	rem := c.remoteFlags()
	if err := c.parse(args, 0, ""); err != nil {
		return runAdmin(stderr, err)
	}
	var res store.GCResult
	d, cfg, err := c.openLocal(depot.Options{})
	switch {
	case err == nil:
		defer d.Close()
		res, err = d.GC() // the same cutoff as the server's
	case errors.Is(err, store.ErrLocked):
		var resp *http.Response
		if resp, err = rem.do(cfg, "POST", "/api/v1/admin/gc", nil); err == nil {
			err = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
		}
	}
	if err != nil {
		return runAdmin(stderr, err)
	}
	fmt.Fprintf(stdout, "removed %d download tokens, %d expired sessions, %d access log entries\n", res.DownloadTokens, res.Sessions, res.AccessLog)
	return exitOK
}
