package cli

import (
	"fmt"
	"io"
	"os"

	"hangar/backup"
	"hangar/config"
	"hangar/depot"
	"hangar/store"
)

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
	return c.localOrRemote(depot.Options{}, rem, func(d *depot.Depot) error {
		if err := backup.Write(w, d); err != nil {
			return err
		}
		return d.Store().Record(store.AuditBackupTaken, store.AuditTarget{Kind: "instance"}, "", map[string]any{"via": "command line"})
	}, func(rem remote, cfg config.Config) error {
		resp, err := rem.do(cfg, "GET", "/api/v1/admin/backup", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("backup from the server broke off: %w", err)
		}
		return nil
	})
}
