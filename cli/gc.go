package cli

import (
	"fmt"
	"io"

	"hangar/config"
	"hangar/depot"
	"hangar/store"
)

// cmdGC removes expired tokens and old access log entries.
func cmdGC(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("gc", nil, stdout, stderr)
	rem := c.remoteFlags()
	if err := c.parse(args, 0, ""); err != nil {
		return runAdmin(stderr, err)
	}
	var res store.GCResult
	err := c.localOrRemote(depot.Options{}, rem, func(d *depot.Depot) (err error) {
		res, err = d.GC() // the same cutoff as the server's
		return err
	}, func(rem remote, cfg config.Config) error {
		return rem.call(cfg, "POST", "/api/v1/admin/gc", nil, &res)
	})
	if err != nil {
		return runAdmin(stderr, err)
	}
	fmt.Fprintf(stdout, "removed %d download tokens, %d expired sessions, %d access log entries\n", res.DownloadTokens, res.Sessions, res.AccessLog)
	return exitOK
}
