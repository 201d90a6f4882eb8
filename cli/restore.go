package cli

import (
	"fmt"
	"io"
	"os"

	"hangar/backup"
	"hangar/depot"
	"hangar/fsck"
)

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
	// Open it as the server would (migrating an older schema) and check it:
	// against the bucket when the backup left its blobs there.
	o := depot.Options{SkipDatabaseCheck: true}
	if rep.InBucket != "" {
		fmt.Fprint(c.stdout, rep.InBucket)
		cfg, err := c.config()
		if err != nil {
			return err
		}
		if o.S3, err = openBucket(cfg); err != nil {
			return err
		}
		if o.S3 == nil {
			return fmt.Errorf("the backup's blobs are in an S3 bucket: restore it with -config naming a configuration whose [blobs] section (backend = \"s3\") points at that bucket; %s holds the database: remove it first", dir)
		}
	}
	d, err := depot.Open(dir, o)
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
	if rep.InBucket != "" {
		fmt.Fprintf(c.stdout, "restored the database into %s; its %d files' blobs are in the bucket, checked\n", dir, fr.Files)
	} else {
		fmt.Fprintf(c.stdout, "restored %d blobs into %s\n", rep.Blobs, dir)
	}
	if rep.CA {
		fmt.Fprintf(c.stdout, "restored the local certificate authority (tls/ca.key, tls/ca.crt): testers' devices keep trusting it\n")
	}
	if problems > 0 || len(rep.Mismatches) > 0 {
		return fmt.Errorf("the restored data directory has %d problems and %d damaged blobs", problems, len(rep.Mismatches))
	}
	return nil
}
