package cli

import (
	"fmt"
	"io"

	"hangar/depot"
	"hangar/store"
)

// cmdCompact rewrites a stopped server's database without its free pages
// (see store.Compact): after a mass expiry of access logs, commits stop
// paying for the freed pages, and the file shrinks.
func cmdCompact(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("compact", nil, stdout, stderr)
	if err := c.parse(args, 0, ""); err != nil {
		return runAdmin(stderr, err)
	}
	cfg, err := c.config()
	if err != nil {
		return runAdmin(stderr, err)
	}
	path := depot.DBPath(cfg.DataDir)
	before, after, err := store.Compact(path)
	if err != nil {
		return runAdmin(stderr, err)
	}
	fmt.Fprintf(stdout, "compacted %s: %d → %d bytes\n", path, before, after)
	return exitOK
}
