package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"hangar/auth"
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
	d, err := depot.Open(cfg.DataDir, o)
	return d, cfg, err
}

// open is openLocal for commands that have no online form; they change
// metadata alone, so they get the store.
func (c *adminCmd) open() (*store.Store, error) {
	d, cfg, err := c.openLocal(depot.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by a running hangar server: stop it first, or do this through the API (see the README, \"Accounts and tokens\")", cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
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

func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return subcommand("user", []string{"add", "passwd", "list"}, args, stdin, stdout, stderr,
		func(c *adminCmd, name string, args []string) error {
			switch name {
			case "add":
				return c.userAdd(args)
			case "passwd":
				return c.userPasswd(args)
			}
			return c.userList(args)
		})
}

func (c *adminCmd) passwordFlag() *bool {
	return c.fs.Bool("password-stdin", false, "read the password from the first line of standard input (default: generate one and print it)")
}

// password reads the password from stdin, or generates one and says so.
func (c *adminCmd) password(fromStdin bool) (string, error) {
	if !fromStdin {
		pw := auth.NewPassword()
		fmt.Fprintf(c.stdout, "password: %s\n", pw)
		return pw, nil
	}
	line, err := bufio.NewReader(io.LimitReader(c.stdin, auth.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	return pw, auth.CheckPassword(pw)
}

func (c *adminCmd) userAdd(args []string) error {
	admin := c.fs.Bool("admin", false, "make the user an instance admin")
	ws := c.fs.String("workspace", "", "workspace `slug` to add the user to")
	role := c.fs.String("role", "", "the user's `role` in -workspace: viewer, ci, developer or admin")
	fromStdin := c.passwordFlag()
	if err := c.parse(args, 1, "USERNAME"); err != nil {
		return err
	}
	if (*ws == "") != (*role == "") || *role != "" && !auth.ValidRole(*role) {
		return fmt.Errorf("-workspace and -role go together; roles are viewer, ci, developer, admin")
	}
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()
	var wsID string
	if *ws != "" {
		w, err := st.WorkspaceBySlug(*ws)
		if err != nil {
			return fmt.Errorf("workspace %q: %w", *ws, err)
		}
		wsID = w.ID
	}
	pw, err := c.password(*fromStdin)
	if err != nil {
		return err
	}
	hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(context.Background(), pw)
	if err != nil {
		return err
	}
	u, err := st.CreateUser(store.User{Username: c.fs.Arg(0), PasswordHash: hash, Admin: *admin})
	if err != nil {
		return err
	}
	if wsID != "" {
		if err := st.SetMembership(store.MemberUser, u.ID, wsID, *role); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stdout, "created user %s\n", u.Username)
	return nil
}

func (c *adminCmd) userPasswd(args []string) error {
	fromStdin := c.passwordFlag()
	if err := c.parse(args, 1, "USERNAME"); err != nil {
		return err
	}
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByName(c.fs.Arg(0))
	if err != nil {
		return fmt.Errorf("user %q: %w", c.fs.Arg(0), err)
	}
	pw, err := c.password(*fromStdin)
	if err != nil {
		return err
	}
	hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(context.Background(), pw)
	if err != nil {
		return err
	}
	if err := st.SetPassword(u.ID, hash); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "changed the password of %s; their sessions have ended\n", u.Username)
	return nil
}

func (c *adminCmd) userList(args []string) error {
	if err := c.parse(args, 0, ""); err != nil {
		return err
	}
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.Users()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tADMIN\tWORKSPACES\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", u.Username, u.Admin, memberships(st, u.Memberships), u.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// memberships renders workspace ID → role as "slug:role,…".
func memberships(st *store.Store, ms map[string]string) string {
	var parts []string
	for id, role := range ms {
		if ws, err := st.Workspace(id); err == nil {
			parts = append(parts, ws.Slug+":"+role)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

func cmdToken(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return subcommand("token", []string{"create", "list", "revoke"}, args, stdin, stdout, stderr,
		func(c *adminCmd, name string, args []string) error {
			switch name {
			case "create":
				return c.tokenCreate(args)
			case "list":
				return c.tokenList(args)
			}
			return c.tokenRevoke(args)
		})
}

// tokenCreate makes a service account with one token (-admin, or -workspace
// with -role), or an app token for one project (-workspace with -project).
func (c *adminCmd) tokenCreate(args []string) error {
	name := c.fs.String("name", "", "a `name` for the service account or app token")
	admin := c.fs.Bool("admin", false, "an instance-admin service account")
	ws := c.fs.String("workspace", "", "workspace `slug`")
	role := c.fs.String("role", "", "service account `role` in -workspace: viewer, ci, developer or admin")
	project := c.fs.String("project", "", "project `slug` in -workspace: make an app token that may only upload builds to it")
	if err := c.parse(args, 0, "-name NAME (-admin | -workspace WS -role ROLE | -workspace WS -project PROJECT)"); err != nil {
		return err
	}
	modes := 0
	for _, set := range []bool{*admin, *role != "", *project != ""} {
		if set {
			modes++
		}
	}
	if *name == "" || modes != 1 || (*role != "" || *project != "") != (*ws != "") || *role != "" && !auth.ValidRole(*role) {
		c.fs.Usage()
		return errUsage
	}
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()

	var tok store.Token
	switch {
	case *project != "":
		w, err := st.WorkspaceBySlug(*ws)
		if err != nil {
			return fmt.Errorf("workspace %q: %w", *ws, err)
		}
		p, err := st.ProjectBySlug(w.ID, *project)
		if err != nil {
			return fmt.Errorf("project %q: %w", *project, err)
		}
		tok = store.Token{Kind: store.TokenApp, OwnerID: p.ID, Name: *name}
	default:
		sa := store.ServiceAccount{Name: *name, Admin: *admin, Memberships: map[string]string{}}
		if *ws != "" {
			w, err := st.WorkspaceBySlug(*ws)
			if err != nil {
				return fmt.Errorf("workspace %q: %w", *ws, err)
			}
			sa.Memberships[w.ID] = *role
		}
		if sa, err = st.CreateServiceAccount(sa); err != nil {
			return err
		}
		tok = store.Token{Kind: store.TokenServiceAccount, OwnerID: sa.ID, Name: *name}
	}
	plain, _, err := st.CreateToken(tok)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, plain)
	return nil
}

func (c *adminCmd) tokenList(args []string) error {
	if err := c.parse(args, 0, ""); err != nil {
		return err
	}
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()
	tokens, err := st.AllTokens()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tKIND\tOWNER\tNAME\tCREATED\tLAST USED\tEXPIRES")
	for _, t := range tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Prefix, t.Kind, t.OwnerID, orDash(t.Name),
			t.CreatedAt.Format(time.RFC3339), timeOrDash(t.LastUsedAt), timeOrDash(t.ExpiresAt))
	}
	return tw.Flush()
}

func (c *adminCmd) tokenRevoke(args []string) error {
	if err := c.parse(args, 1, "PREFIX"); err != nil {
		return err
	}
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.RevokeTokenByPrefix(c.fs.Arg(0))
	if err != nil {
		return fmt.Errorf("token %q: %w", c.fs.Arg(0), err)
	}
	fmt.Fprintf(c.stdout, "revoked %s token %s\n", t.Kind, t.Prefix)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
