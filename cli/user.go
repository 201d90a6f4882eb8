package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"hangar/auth"
	"hangar/config"
	"hangar/depot"
	"hangar/store"
)

func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return subcommand("user", []string{"add", "passwd", "list", "disable", "enable", "delete"}, args, stdin, stdout, stderr,
		func(c *adminCmd, name string, args []string) error {
			switch name {
			case "add":
				return c.userAdd(args)
			case "passwd":
				return c.userPasswd(args)
			case "disable", "enable", "delete":
				return c.userOffboard(name, args)
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
	u, err := st.CreateUser(store.User{Username: c.fs.Arg(0), PasswordHash: hash, Admin: *admin, MustChangePassword: true})
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
	if err := st.SetPassword(u.ID, hash, true); err != nil {
		return err
	}
	if u.Username == "admin" { // the first start's password is no longer it
		if err := os.Remove(filepath.Join(c.dataDir, depot.FirstCredentialsFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(c.stderr, "could not remove the first start's credentials: %v\n", err)
		}
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

// userOffboard disables, enables or deletes a user: in the data directory
// when no server runs, through the running server's API when one does.
func (c *adminCmd) userOffboard(verb string, args []string) error {
	rem := c.remoteFlags()
	if err := c.parse(args, 1, "USERNAME"); err != nil {
		return err
	}
	name := c.fs.Arg(0)
	err := c.localOrRemote(depot.Options{}, rem, func(d *depot.Depot) error {
		st := d.Store()
		u, err := st.UserByName(name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		switch verb {
		case "delete":
			return st.DeleteUser(u.ID)
		default:
			_, err = st.SetDisabled(u.ID, verb == "disable")
			return err
		}
	}, func(rem remote, cfg config.Config) error {
		method, path := "POST", "/api/v1/user/"+url.PathEscape(name)+"/"+verb
		if verb == "delete" {
			method, path = "DELETE", "/api/v1/user/"+url.PathEscape(name)
		}
		resp, err := rem.do(cfg, method, path, nil)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	if err != nil {
		return err
	}
	done := map[string]string{"disable": "disabled %s: their sessions and tokens have ended\n", "enable": "enabled %s\n", "delete": "deleted %s\n"}[verb]
	fmt.Fprintf(c.stdout, done, name)
	return nil
}
