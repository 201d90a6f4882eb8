package cli

import (
	"cmp"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"hangar/auth"
	"hangar/store"
)

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
	project := c.fs.String("project", "", "project `slug` in -workspace: make an app token for it, which uploads builds (see -scope)")
	scope := c.fs.String("scope", auth.ScopeUpload, "with -project, what the app token may do: upload, publish (also members-only distribution pages) or publish-openly (also public and password pages)")
	if err := c.parse(args, 0, "-name NAME (-admin | -workspace WS -role ROLE | -workspace WS -project PROJECT [-scope SCOPE])"); err != nil {
		return err
	}
	modes := 0
	for _, set := range []bool{*admin, *role != "", *project != ""} {
		if set {
			modes++
		}
	}
	_, scopeOK := auth.ScopePermissions(*scope)
	if *name == "" || modes != 1 || (*role != "" || *project != "") != (*ws != "") || *role != "" && !auth.ValidRole(*role) || !scopeOK {
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
		tok = store.Token{Kind: store.TokenApp, OwnerID: p.ID, Name: *name, Scope: *scope}
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
		kind := t.Kind
		if t.Kind == store.TokenApp {
			kind += " (" + cmp.Or(t.Scope, auth.ScopeUpload) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Prefix, kind, t.OwnerID, orDash(t.Name),
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
