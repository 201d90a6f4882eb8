package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

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
