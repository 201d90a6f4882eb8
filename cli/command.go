package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"hangar/config"
	"hangar/depot"
	"hangar/store"
)

// The user and token commands work on the data directory directly. bbolt
// allows one process at a time, so while `hangar serve` runs they refuse
// (within a second) and point at the API that does the same thing.

// errUsage marks a command line that is wrong, as opposed to a failure.
var errUsage = errors.New("usage")

type adminCmd struct {
	name   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	fs     *flag.FlagSet
	cfg    *string
	// dataDir is the data directory open opened.
	dataDir string
}

func newAdminCmd(name string, stdin io.Reader, stdout, stderr io.Writer) *adminCmd {
	c := &adminCmd{name: name, stdin: stdin, stdout: stdout, stderr: stderr}
	c.fs = flag.NewFlagSet("hangar "+name, flag.ContinueOnError)
	c.fs.SetOutput(stderr)
	c.cfg = c.fs.String("config", "", "TOML configuration `file` naming the data directory (default: embedded defaults)")
	return c
}

// parse parses the flags and checks the number of positional arguments.
func (c *adminCmd) parse(args []string, nargs int, argsUsage string) error {
	c.fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: hangar %s [flags] %s\n", c.name, argsUsage)
		c.fs.PrintDefaults()
	}
	if err := c.fs.Parse(args); err != nil {
		return errUsage
	}
	if c.fs.NArg() != nargs {
		c.fs.Usage()
		return errUsage
	}
	return nil
}

// config returns the command's configuration.
func (c *adminCmd) config() (config.Config, error) {
	if *c.cfg == "" {
		return config.Default(), nil
	}
	cfg, err := config.Load(*c.cfg)
	if err != nil {
		return cfg, fmt.Errorf("config %w", err)
	}
	return cfg, nil
}

// openLocal opens the configured data directory. It returns an error
// wrapping store.ErrLocked within a second when a server holds it.
func (c *adminCmd) openLocal(o depot.Options) (*depot.Depot, config.Config, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, cfg, err
	}
	o.Config, o.LockTimeout = cfg, 500*time.Millisecond
	if o.S3, err = openBucket(cfg); err != nil {
		return nil, cfg, err
	}
	d, err := depot.Open(cfg.DataDir, o)
	return d, cfg, err
}

// open is openLocal for commands that have no online form; they change
// metadata alone, so they get the store.
func (c *adminCmd) open() (*store.Store, error) {
	d, cfg, err := c.openLocal(depot.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by a running hangar server: stop it first, or do this through the API (see docs/accounts.md, \"Accounts and tokens\")", cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	c.dataDir = cfg.DataDir
	return d.Store(), nil // closing the store closes the depot
}

// runAdmin maps a command's error to an exit status and its message.
func runAdmin(stderr io.Writer, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		fmt.Fprintf(stderr, "hangar: %v\n", err)
		return exitFailure
	}
}

// subcommand runs one of a command's subcommands (user add, token list, …).
func subcommand(group string, names []string, args []string, stdin io.Reader, stdout, stderr io.Writer,
	run func(c *adminCmd, name string, args []string) error) int {
	if len(args) == 0 || !slices.Contains(names, args[0]) {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "hangar %s: unknown command %q\n", group, args[0])
		}
		fmt.Fprintf(stderr, "Usage: hangar %s %s [flags]\n", group, strings.Join(names, "|"))
		return exitUsage
	}
	c := newAdminCmd(group+" "+args[0], stdin, stdout, stderr)
	return runAdmin(stderr, run(c, args[0], args[1:]))
}
