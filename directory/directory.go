// Package directory asks an LDAP directory (OpenLDAP, Active Directory)
// about people: it finds a person with a service account's search, checks
// their password by binding as them, and reads their groups. Nothing of a
// password is kept. Connections are pooled, each dial and request has a
// timeout, and usernames reach filters only escaped.
package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"hangar/config"
)

var (
	// ErrRefused: no such person, a wrong password, or one the filter
	// excludes (a disabled account): the same to whoever asked.
	ErrRefused = errors.New("directory: refused")
	// ErrUnavailable: the directory cannot be reached or answered
	// wrongly; the sign-in page says so.
	ErrUnavailable = errors.New("directory: unavailable")
)

// MaxGroups bounds the groups read for one person.
const MaxGroups = 1000

// Person is what the directory says of someone.
type Person struct {
	DN       string
	Username string
	Email    string
	Groups   []string // group DNs
}

// Directory is one configured directory.
type Directory struct {
	cfg     config.LDAP
	tlsConf *tls.Config
	pool    chan *ldap.Conn // bound as the service account
}

// New returns a directory client for cfg (reading its password and CA
// files now). It does not connect until asked.
func New(cfg config.LDAP) (*Directory, error) {
	if cfg.BindPasswordFile != "" {
		b, err := os.ReadFile(cfg.BindPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("ldap.bind_password_file: %w", err)
		}
		cfg.BindPassword = strings.TrimRight(string(b), "\r\n")
	}
	u, _ := url.Parse(cfg.URL) // checked by config
	d := &Directory{cfg: cfg, pool: make(chan *ldap.Conn, 4), tlsConf: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldap.ca_file: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap.ca_file: %s holds no PEM certificate", cfg.CAFile)
		}
		d.tlsConf.RootCAs = roots
	}
	return d, nil
}

// dial opens a connection (TLS as configured), not yet bound.
func (d *Directory) dial(ctx context.Context) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	c, err := ldap.DialURL(d.cfg.URL, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(d.tlsConf))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	c.SetTimeout(d.cfg.Timeout)
	if d.cfg.StartTLS {
		if err := c.StartTLS(d.tlsConf); err != nil {
			c.Close()
			return nil, fmt.Errorf("%w: starttls: %v", ErrUnavailable, err)
		}
	}
	return c, nil
}

// service returns a connection bound as the service account, from the
// pool or new.
func (d *Directory) service(ctx context.Context) (*ldap.Conn, error) {
	select {
	case c := <-d.pool:
		if !c.IsClosing() {
			return c, nil
		}
		c.Close()
	default:
	}
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	if d.cfg.BindDN != "" {
		err = c.Bind(d.cfg.BindDN, d.cfg.BindPassword)
	} else {
		err = c.UnauthenticatedBind("")
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: the service account's bind: %v", ErrUnavailable, err)
	}
	return c, nil
}

// release returns a service connection to the pool (or closes it).
func (d *Directory) release(c *ldap.Conn) {
	select {
	case d.pool <- c:
	default:
		c.Close()
	}
}

// Close closes the pooled connections.
func (d *Directory) Close() {
	for {
		select {
		case c := <-d.pool:
			c.Close()
		default:
			return
		}
	}
}

// Authenticate checks a person's password with the directory: found by
// the user filter, then bound as. ErrRefused for anyone it does not
// accept, ErrUnavailable when it cannot say.
func (d *Directory) Authenticate(ctx context.Context, username, password string) (Person, error) {
	if password == "" {
		return Person{}, ErrRefused // an empty password is an anonymous bind: it proves nothing
	}
	p, err := d.Lookup(ctx, username)
	if err != nil {
		return Person{}, err
	}
	c, err := d.dial(ctx)
	if err != nil {
		return Person{}, err
	}
	defer c.Close()
	if err := c.Bind(p.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || ldap.IsErrorWithCode(err, ldap.LDAPResultInappropriateAuthentication) {
			return Person{}, ErrRefused
		}
		return Person{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return p, nil
}

// Lookup finds a person by username, with their groups, as the service
// account. A person the filter does not select (absent, disabled) is
// ErrRefused.
func (d *Directory) Lookup(ctx context.Context, username string) (Person, error) {
	if username == "" || len(username) > 256 {
		return Person{}, ErrRefused
	}
	c, err := d.service(ctx)
	if err != nil {
		return Person{}, err
	}
	p, err := d.lookup(c, username)
	if errors.Is(err, ErrUnavailable) {
		c.Close()
	} else {
		d.release(c)
	}
	return p, err
}

func (d *Directory) lookup(c *ldap.Conn, username string) (Person, error) {
	filter := strings.ReplaceAll(d.cfg.UserFilter, "{username}", ldap.EscapeFilter(username))
	attrs := []string{d.cfg.UsernameAttr, d.cfg.EmailAttr}
	if d.cfg.MemberOf {
		attrs = append(attrs, "memberOf")
	}
	secs := int(d.cfg.Timeout / time.Second)
	res, err := c.Search(ldap.NewSearchRequest(d.cfg.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, secs, false, filter, attrs, nil))
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return Person{}, ErrRefused // the filter matches several people: none is this one
		}
		return Person{}, fmt.Errorf("%w: search: %v", ErrUnavailable, err)
	}
	if len(res.Entries) != 1 {
		return Person{}, ErrRefused
	}
	e := res.Entries[0]
	p := Person{DN: e.DN, Username: e.GetAttributeValue(d.cfg.UsernameAttr), Email: e.GetAttributeValue(d.cfg.EmailAttr)}
	if !strings.EqualFold(p.Username, username) {
		p.Username = username
	}
	switch {
	case d.cfg.MemberOf:
		p.Groups = e.GetAttributeValues("memberOf")
	case d.cfg.GroupFilter != "":
		gf := strings.ReplaceAll(d.cfg.GroupFilter, "{dn}", ldap.EscapeFilter(e.DN))
		gres, err := c.Search(ldap.NewSearchRequest(d.cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, MaxGroups, secs, false, gf, []string{"dn"}, nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return Person{}, fmt.Errorf("%w: group search: %v", ErrUnavailable, err)
		}
		if gres != nil {
			for _, g := range gres.Entries {
				p.Groups = append(p.Groups, g.DN)
			}
		}
	}
	if len(p.Groups) > MaxGroups {
		p.Groups = p.Groups[:MaxGroups]
	}
	return p, nil
}
