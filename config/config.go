// Package config reads Hangar's TOML configuration.
//
// Decoding happens in two steps: TOML into a struct of plain strings, then
// each field is parsed by hand. That way every error names the file and the
// key ("config.toml: signed_url_ttl: time: invalid duration \"soon\""), which
// the TOML library's own type errors do not always do.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is Hangar's validated configuration.
type Config struct {
	Listen    string
	PublicURL string // no trailing slash
	// PublicURLDerived is true when public_url was not set and PublicURL
	// comes from Listen; the server re-derives it from the address it
	// actually bound (port 0 picks a free port).
	PublicURLDerived bool
	// PublicHost, when set, is the host a derived public_url names
	// (serve -lan: the machine's primary LAN address, which phones reach
	// without a DNS name).
	PublicHost string
	DataDir    string
	TLSCert    string
	TLSKey     string

	// TLSMode is how the listener gets its certificate: "off" (plain
	// HTTP), "files" (TLSCert, TLSKey), "local-ca" (a CA in the data
	// directory issues and renews one) or "acme".
	TLSMode string
	// TLSNames are the host names and addresses testers use (tls_names);
	// TLSRanges are address ranges a local CA may also vouch for (CIDR
	// entries of tls_names, and each address alone).
	TLSNames  []string
	TLSIPs    []netip.Addr
	TLSRanges []netip.Prefix
	// TLSLANAddresses adds the machine's LAN addresses (local-ca).
	TLSLANAddresses bool
	// OnboardingListen is a plain-HTTP address serving the trust page and
	// the CA downloads, redirecting everything else to HTTPS ("": none).
	OnboardingListen string
	// ACME settings (tls_mode = "acme").
	ACMEEmail, ACMEDirectory, ACMECARoots string

	MaxUploadSize  int64 // bytes, per uploaded file
	MaxRequestBody int64 // bytes, for JSON and form fields

	SignedURLTTL      time.Duration
	DownloadTokenTTL  time.Duration
	SessionTTL        time.Duration
	ShutdownTimeout   time.Duration
	ReadHeaderTimeout time.Duration
	BodyIdleTimeout   time.Duration

	TrustedProxies []netip.Prefix

	// WebhookAllowedNetworks are address ranges webhooks may reach that are
	// refused by default (loopback, link-local, metadata services).
	WebhookAllowedNetworks []netip.Prefix
	// WebhookRefusePrivate also refuses private ranges to webhooks (off by
	// default: a LAN appliance's chat server is often on the LAN).
	WebhookRefusePrivate bool

	// MetricsPublic serves /metrics without a token (for a Prometheus on a
	// trusted network); otherwise it needs an instance admin token.
	MetricsPublic bool

	// ProcessingWorkers is how many packages are read at once in the
	// background (metadata, icon).
	ProcessingWorkers int

	// AccessLogRetention: access log entries older than this are removed by
	// gc (0: kept until their link's 10,000-entry cap).
	AccessLogRetention time.Duration
	// Build retention defaults for projects without their own: keep the
	// newest KeepBuilds builds (0: all) and builds younger than
	// MaxBuildAge (0: any age).
	KeepBuilds  int
	MaxBuildAge time.Duration

	LogLevel  slog.Level
	LogFormat string // "text" or "json"

	// Blobs says where file contents live.
	Blobs Blobs

	// Audit is the [audit] section: how long the audit log keeps entries.
	Audit Audit

	// SMTP is the [smtp] section; Host "" means no mail: features that
	// mail show their links instead.
	SMTP SMTP

	// RequireSecondFactor is who must have a second factor to use the
	// console and API with a password: "none", "admins" (instance
	// admins) or "everyone" ([security] require_second_factor).
	RequireSecondFactor string
	// ExternalOnly refuses local passwords to everyone but BreakGlass
	// ([security] external_only, break_glass): people sign in with the
	// company's directory.
	ExternalOnly bool
	BreakGlass   string

	// LDAP is the [ldap] section (URL "": none).
	LDAP LDAP
	// OIDC are the [[oidc]] providers, in the order of their buttons.
	OIDC []OIDC
	// GroupRoles are the [[group_role]] rules: a directory group gives a
	// role in a workspace, or makes an instance admin.
	GroupRoles []GroupRole

	// Testers is the [testers] section: how long a tester's sign-in by
	// link lasts on their device, and how many notifications a workspace
	// may send per hour.
	Testers Testers
}

// Testers configures testers' sign-in and notifications.
type Testers struct {
	SessionTTL    time.Duration
	NotifyPerHour int // per workspace; the overflow is reported, not sent
}

// LDAP is how Hangar asks a directory (OpenLDAP, Active Directory) about
// people: a service account searches, the person's own bind checks their
// password.
type LDAP struct {
	URL              string // ldap://host:389 or ldaps://host:636
	StartTLS         bool
	CAFile           string
	BindDN           string
	BindPassword     string // from bind_password or bind_password_file
	BindPasswordFile string
	UserBase         string
	UserFilter       string // with {username}
	GroupBase        string
	GroupFilter      string // with {dn}
	MemberOf         bool   // groups from the user's memberOf attribute instead
	// UsernameAttr and EmailAttr name the attributes read (uid or
	// sAMAccountName; mail).
	UsernameAttr, EmailAttr string
	SyncInterval            time.Duration // 0: no sync
	Timeout                 time.Duration
}

// OIDC is an OpenID Connect provider people sign in with.
type OIDC struct {
	Name                       string // on the button and in the paths (/signin/oidc/{name})
	Issuer                     string
	ClientID                   string
	ClientSecret               string // from client_secret or client_secret_file
	ClientSecretFile           string
	Scopes                     []string
	UsernameClaim, GroupsClaim string
	AllowedDomains             []string // e-mail domains allowed to sign in (none: any)
	// LinkVerifiedEmail links a first sign-in to the local user with the
	// same, verified, address; otherwise a local user is never linked.
	LinkVerifiedEmail bool
}

// GroupRole is one rule: members of Group get Role in Workspace (a slug),
// or are instance admins.
type GroupRole struct {
	Group         string
	Workspace     string
	Role          string
	InstanceAdmin bool
}

// SMTP is how Hangar sends mail.
type SMTP struct {
	Host string
	Port int
	// TLS is "starttls" (upgrade on the submission port, required), "tls"
	// (implicit TLS, port 465) or "none" (a relay on the same host).
	TLS          string
	Username     string
	Password     string // from password or password_file
	From         string // the From address, "Hangar <hangar@example.com>"
	CAFile       string // a CA that signs the server's certificate, besides the system's
	PasswordFile string
}

// Audit says how long the audit log keeps its entries, and whether each
// is also a log line (for a SIEM collecting the service's logs).
type Audit struct {
	MaxAge     time.Duration // 0: any age
	MaxEntries int           // 0: any number
	Log        bool
}

// Blobs is the [blobs] section: the local directory (the default) or an
// S3-compatible bucket. Credentials are never in the file: they come from
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or CredentialsFile.
type Blobs struct {
	Backend   string // "local" or "s3"
	Endpoint  string // host[:port]
	Bucket    string
	Region    string
	Prefix    string
	PathStyle bool
	Secure    bool
	// Delivery is how downloads reach testers: "redirect" (a presigned URL
	// of the store) or "proxy" (through Hangar, for stores testers cannot
	// reach).
	Delivery string
	// CredentialsFile is an AWS-style credentials file (aws_access_key_id,
	// aws_secret_access_key), readable by its owner only.
	CredentialsFile string
}

// Default returns the embedded default: what `hangar serve` runs on with no
// configuration file.
func Default() Config {
	c, err := parse(defaultRaw(), "(default)")
	if err != nil {
		panic(err) // the defaults are constants
	}
	return c
}

type rawSecurity struct {
	RequireSecondFactor string `toml:"require_second_factor"`
	ExternalOnly        bool   `toml:"external_only"`
	BreakGlass          string `toml:"break_glass"`
}

type rawLDAP struct {
	URL              string `toml:"url"`
	StartTLS         bool   `toml:"start_tls"`
	CAFile           string `toml:"ca_file"`
	BindDN           string `toml:"bind_dn"`
	BindPassword     string `toml:"bind_password"`
	BindPasswordFile string `toml:"bind_password_file"`
	UserBase         string `toml:"user_base"`
	UserFilter       string `toml:"user_filter"`
	GroupBase        string `toml:"group_base"`
	GroupFilter      string `toml:"group_filter"`
	MemberOf         bool   `toml:"member_of"`
	UsernameAttr     string `toml:"username_attribute"`
	EmailAttr        string `toml:"email_attribute"`
	SyncInterval     string `toml:"sync_interval"`
	Timeout          string `toml:"timeout"`
}

type rawOIDC struct {
	Name              string   `toml:"name"`
	Issuer            string   `toml:"issuer"`
	ClientID          string   `toml:"client_id"`
	ClientSecret      string   `toml:"client_secret"`
	ClientSecretFile  string   `toml:"client_secret_file"`
	Scopes            []string `toml:"scopes"`
	UsernameClaim     string   `toml:"username_claim"`
	GroupsClaim       string   `toml:"groups_claim"`
	AllowedDomains    []string `toml:"allowed_domains"`
	LinkVerifiedEmail bool     `toml:"link_verified_email"`
}

type rawGroupRole struct {
	Group         string `toml:"group"`
	Workspace     string `toml:"workspace"`
	Role          string `toml:"role"`
	InstanceAdmin bool   `toml:"instance_admin"`
}

type rawSMTP struct {
	Host         string `toml:"host"`
	Port         int    `toml:"port"`
	TLS          string `toml:"tls"`
	Username     string `toml:"username"`
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	From         string `toml:"from"`
	CAFile       string `toml:"ca_file"`
}

type rawTesters struct {
	SessionTTL    string `toml:"session_ttl"`
	NotifyPerHour int    `toml:"notify_per_hour"`
}

type rawAudit struct {
	MaxAge     string `toml:"max_age"`
	MaxEntries int    `toml:"max_entries"`
	Log        bool   `toml:"log"`
}

type rawLog struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

type rawRetention struct {
	KeepBuilds int    `toml:"keep_builds"`
	MaxAge     string `toml:"max_age"`
}

type raw struct {
	Listen           string         `toml:"listen"`
	PublicURL        string         `toml:"public_url"`
	DataDir          string         `toml:"data_dir"`
	TLSCert          string         `toml:"tls_cert"`
	TLSKey           string         `toml:"tls_key"`
	TLSMode          string         `toml:"tls_mode"`
	TLSNames         []string       `toml:"tls_names"`
	TLSLANAddresses  *bool          `toml:"tls_lan_addresses"`
	OnboardingListen string         `toml:"onboarding_listen"`
	ACMEEmail        string         `toml:"acme_email"`
	ACMEDirectory    string         `toml:"acme_directory"`
	ACMECARoots      string         `toml:"acme_ca_roots"`
	MaxUploadSize    string         `toml:"max_upload_size"`
	MaxRequestBody   string         `toml:"max_request_body"`
	SignedURLTTL     string         `toml:"signed_url_ttl"`
	DownloadTokenTTL string         `toml:"download_token_ttl"`
	SessionTTL       string         `toml:"session_ttl"`
	ShutdownTimeout  string         `toml:"shutdown_timeout"`
	HeaderTimeout    string         `toml:"read_header_timeout"`
	BodyIdleTimeout  string         `toml:"body_idle_timeout"`
	TrustedProxies   []string       `toml:"trusted_proxies"`
	WebhookNetworks  []string       `toml:"webhook_allowed_networks"`
	WebhookNoPrivate bool           `toml:"webhook_refuse_private_networks"`
	AccessLogKeep    string         `toml:"access_log_retention"`
	MetricsPublic    bool           `toml:"metrics_public"`
	Workers          int            `toml:"processing_workers"`
	Log              rawLog         `toml:"log"`
	Retention        rawRetention   `toml:"retention"`
	Blobs            rawBlobs       `toml:"blobs"`
	Audit            rawAudit       `toml:"audit"`
	Testers          rawTesters     `toml:"testers"`
	SMTP             rawSMTP        `toml:"smtp"`
	Security         rawSecurity    `toml:"security"`
	LDAP             rawLDAP        `toml:"ldap"`
	GroupRoles       []rawGroupRole `toml:"group_role"`
	OIDC             []rawOIDC      `toml:"oidc"`
}

type rawBlobs struct {
	Backend         string `toml:"backend"`
	Endpoint        string `toml:"endpoint"`
	Bucket          string `toml:"bucket"`
	Region          string `toml:"region"`
	Prefix          string `toml:"prefix"`
	PathStyle       bool   `toml:"path_style"`
	Secure          bool   `toml:"secure"`
	Delivery        string `toml:"delivery"`
	CredentialsFile string `toml:"credentials_file"`
}

// defaultRaw holds the defaults in the same form as the file, so that
// config.example.toml and this function say the same thing.
func defaultRaw() raw {
	return raw{
		Listen:           "127.0.0.1:8080",
		DataDir:          "./hangar-data",
		MaxUploadSize:    "4GiB",
		MaxRequestBody:   "1MiB",
		SignedURLTTL:     "15m",
		DownloadTokenTTL: "5m",
		SessionTTL:       "12h",
		ShutdownTimeout:  "30s",
		HeaderTimeout:    "10s",
		BodyIdleTimeout:  "1m",
		AccessLogKeep:    "2160h",
		Workers:          2,
		Log:              rawLog{Level: "info", Format: "text"},
		Retention:        rawRetention{MaxAge: "0s"},
		Blobs:            rawBlobs{Backend: "local", Delivery: "redirect", Region: "us-east-1", Secure: true},
		Audit:            rawAudit{MaxAge: "8760h", MaxEntries: 1000000},
		Security:         rawSecurity{RequireSecondFactor: "none"},
		Testers:          rawTesters{SessionTTL: "720h", NotifyPerHour: 500},
	}
}

// withPosition is perr's message with its line and column. The TOML
// module's formatter indexes out of range on some inputs (a file that is
// only `"\`, found by FuzzLoad): then the plain message, which has the
// line too.
func withPosition(perr toml.ParseError) (msg string) {
	defer func() {
		if recover() != nil {
			msg = perr.Error()
		}
	}()
	return perr.ErrorWithPosition()
}

// Load reads the TOML file at path over the defaults. Unknown keys, values
// that do not parse and an unreadable file are errors that name the file and,
// where there is one, the key.
func Load(path string) (Config, error) {
	r := defaultRaw()
	md, err := toml.DecodeFile(path, &r)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return Config{}, fmt.Errorf("%s: %s", path, withPosition(perr))
		}
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("%s: unknown key %s", path, strings.Join(keys, ", "))
	}
	return parse(r, path)
}

func parse(r raw, file string) (Config, error) {
	c := Config{
		Listen:    r.Listen,
		DataDir:   r.DataDir,
		TLSCert:   r.TLSCert,
		TLSKey:    r.TLSKey,
		LogFormat: r.Log.Format,

		MetricsPublic: r.MetricsPublic,
	}
	fail := func(key string, err error) (Config, error) {
		return Config{}, fmt.Errorf("%s: %s: %w", file, key, err)
	}
	b := r.Blobs
	c.Blobs = Blobs(b)
	switch {
	case b.Backend != "local" && b.Backend != "s3":
		return fail("blobs.backend", errors.New(`must be "local" or "s3"`))
	case b.Delivery != "redirect" && b.Delivery != "proxy":
		return fail("blobs.delivery", errors.New(`must be "redirect" or "proxy"`))
	case b.Backend == "s3" && (b.Endpoint == "" || b.Bucket == ""):
		return fail("blobs", errors.New(`backend "s3" needs endpoint and bucket`))
	case strings.Contains(b.Endpoint, "/"):
		return fail("blobs.endpoint", errors.New("must be host[:port], without a scheme (secure = true for https)"))
	}

	if _, _, err := net.SplitHostPort(r.Listen); err != nil {
		return fail("listen", err)
	}
	if r.DataDir == "" {
		return fail("data_dir", errors.New("must not be empty"))
	}
	if (r.TLSCert == "") != (r.TLSKey == "") {
		return fail("tls_cert", errors.New("tls_cert and tls_key must be set together"))
	}
	if key, err := c.parseTLS(r); err != nil {
		return fail(key, err)
	}
	var err error
	if c.PublicURL, err = publicURL(r.PublicURL, c.DerivePublicURL(r.Listen)); err != nil {
		return fail("public_url", err)
	}
	c.PublicURLDerived = r.PublicURL == ""
	sizes := []struct {
		key string
		s   string
		dst *int64
	}{
		{"max_upload_size", r.MaxUploadSize, &c.MaxUploadSize},
		{"max_request_body", r.MaxRequestBody, &c.MaxRequestBody},
	}
	for _, f := range sizes {
		if *f.dst, err = ParseSize(f.s); err != nil {
			return fail(f.key, err)
		}
		if *f.dst <= 0 {
			return fail(f.key, errors.New("must be positive"))
		}
	}
	durations := []struct {
		key string
		s   string
		dst *time.Duration
	}{
		{"signed_url_ttl", r.SignedURLTTL, &c.SignedURLTTL},
		{"download_token_ttl", r.DownloadTokenTTL, &c.DownloadTokenTTL},
		{"session_ttl", r.SessionTTL, &c.SessionTTL},
		{"shutdown_timeout", r.ShutdownTimeout, &c.ShutdownTimeout},
		{"read_header_timeout", r.HeaderTimeout, &c.ReadHeaderTimeout},
		{"body_idle_timeout", r.BodyIdleTimeout, &c.BodyIdleTimeout},
		{"testers.session_ttl", r.Testers.SessionTTL, &c.Testers.SessionTTL},
	}
	for _, f := range durations {
		if *f.dst, err = time.ParseDuration(f.s); err != nil {
			return fail(f.key, err)
		}
		if *f.dst <= 0 {
			return fail(f.key, errors.New("must be positive"))
		}
	}
	// Retention durations may be 0: keep everything.
	for _, f := range []struct {
		key string
		s   string
		dst *time.Duration
	}{
		{"access_log_retention", r.AccessLogKeep, &c.AccessLogRetention},
		{"retention.max_age", r.Retention.MaxAge, &c.MaxBuildAge},
		{"audit.max_age", r.Audit.MaxAge, &c.Audit.MaxAge},
	} {
		if *f.dst, err = time.ParseDuration(f.s); err != nil {
			return fail(f.key, err)
		}
		if *f.dst < 0 {
			return fail(f.key, errors.New("must not be negative"))
		}
	}
	if c.ProcessingWorkers = r.Workers; c.ProcessingWorkers < 1 || c.ProcessingWorkers > 64 {
		return fail("processing_workers", errors.New("must be from 1 to 64"))
	}
	if c.Testers.NotifyPerHour = r.Testers.NotifyPerHour; c.Testers.NotifyPerHour < 0 || c.Testers.NotifyPerHour > 100000 {
		return fail("testers.notify_per_hour", errors.New("must be from 0 to 100000"))
	}
	if c.Audit.MaxEntries, c.Audit.Log = r.Audit.MaxEntries, r.Audit.Log; c.Audit.MaxEntries < 0 {
		return fail("audit.max_entries", errors.New("must not be negative"))
	}
	switch c.RequireSecondFactor = r.Security.RequireSecondFactor; c.RequireSecondFactor {
	case "none", "admins", "everyone":
	default:
		return fail("security.require_second_factor", fmt.Errorf("%q is not none, admins or everyone", c.RequireSecondFactor))
	}
	c.ExternalOnly, c.BreakGlass = r.Security.ExternalOnly, r.Security.BreakGlass
	if c.ExternalOnly && c.BreakGlass == "" {
		return fail("security.break_glass", errors.New("external_only needs a break-glass admin: the one local account that still signs in with its password"))
	}
	if key, err := c.parseLDAP(r.LDAP); err != nil {
		return fail(key, err)
	}
	names := map[string]bool{}
	for i, o := range r.OIDC {
		key := fmt.Sprintf("oidc[%d]", i)
		u, err := url.Parse(o.Issuer)
		switch {
		case !validName(o.Name) || names[strings.ToLower(o.Name)]:
			return fail(key+".name", errors.New("must be 1 to 32 letters, digits, - or _, and differ from the others' (it is in the sign-in paths)"))
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			return fail(key+".issuer", fmt.Errorf("%q is not the provider's issuer URL", o.Issuer))
		case o.ClientID == "":
			return fail(key+".client_id", errors.New("must be set"))
		case o.ClientSecret != "" && o.ClientSecretFile != "":
			return fail(key+".client_secret", errors.New("give client_secret or client_secret_file, not both"))
		}
		names[strings.ToLower(o.Name)] = true
		oc := OIDC{Name: o.Name, Issuer: strings.TrimSuffix(o.Issuer, "/"), ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			ClientSecretFile: o.ClientSecretFile, Scopes: o.Scopes, UsernameClaim: o.UsernameClaim, GroupsClaim: o.GroupsClaim,
			LinkVerifiedEmail: o.LinkVerifiedEmail}
		if len(oc.Scopes) == 0 {
			oc.Scopes = []string{"openid", "profile", "email", "groups"}
		}
		if oc.UsernameClaim == "" {
			oc.UsernameClaim = "preferred_username"
		}
		if oc.GroupsClaim == "" {
			oc.GroupsClaim = "groups"
		}
		for _, d := range o.AllowedDomains {
			oc.AllowedDomains = append(oc.AllowedDomains, strings.ToLower(strings.TrimPrefix(d, "@")))
		}
		c.OIDC = append(c.OIDC, oc)
	}
	for i, g := range r.GroupRoles {
		key := fmt.Sprintf("group_role[%d]", i)
		switch {
		case g.Group == "" || len(g.Group) > 1024:
			return fail(key+".group", errors.New("must be a group: a claim value or a DN"))
		case g.InstanceAdmin && (g.Workspace != "" || g.Role != ""):
			return fail(key, errors.New("instance_admin = true, or a workspace and role, not both"))
		case !g.InstanceAdmin && (g.Workspace == "" || !validRole(g.Role)):
			return fail(key, errors.New("needs a workspace (slug) and a role (viewer, ci, developer, admin), or instance_admin = true"))
		}
		c.GroupRoles = append(c.GroupRoles, GroupRole(g))
	}
	if key, err := c.parseSMTP(r.SMTP); err != nil {
		return fail(key, err)
	}
	if c.KeepBuilds = r.Retention.KeepBuilds; c.KeepBuilds < 0 {
		return fail("retention.keep_builds", errors.New("must not be negative"))
	}
	for i, p := range r.TrustedProxies {
		prefix, err := parsePrefix(p)
		if err != nil {
			return fail(fmt.Sprintf("trusted_proxies[%d]", i), err)
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	for i, p := range r.WebhookNetworks {
		prefix, err := parsePrefix(p)
		if err != nil {
			return fail(fmt.Sprintf("webhook_allowed_networks[%d]", i), err)
		}
		c.WebhookAllowedNetworks = append(c.WebhookAllowedNetworks, prefix)
	}
	c.WebhookRefusePrivate = r.WebhookNoPrivate
	if err := c.LogLevel.UnmarshalText([]byte(r.Log.Level)); err != nil {
		return fail("log.level", fmt.Errorf("%q is not one of debug, info, warn, error", r.Log.Level))
	}
	if r.Log.Format != "text" && r.Log.Format != "json" {
		return fail("log.format", fmt.Errorf("%q is not text or json", r.Log.Format))
	}
	return c, nil
}

// parseTLS reads the tls_* keys; on error it returns the key at fault.
func (c *Config) parseTLS(r raw) (string, error) {
	c.TLSMode = r.TLSMode
	if c.TLSMode == "" {
		c.TLSMode = "off"
		if r.TLSCert != "" {
			c.TLSMode = "files"
		}
	}
	c.TLSLANAddresses = r.TLSLANAddresses == nil || *r.TLSLANAddresses
	c.OnboardingListen = r.OnboardingListen
	c.ACMEEmail, c.ACMEDirectory, c.ACMECARoots = r.ACMEEmail, r.ACMEDirectory, r.ACMECARoots
	if len(r.TLSNames) > 64 {
		return "tls_names", errors.New("at most 64 names")
	}
	for i, n := range r.TLSNames {
		key := fmt.Sprintf("tls_names[%d]", i)
		switch {
		case strings.Contains(n, "/"):
			p, err := netip.ParsePrefix(n)
			if err != nil {
				return key, err
			}
			c.TLSRanges = append(c.TLSRanges, p.Masked())
		case net.ParseIP(n) != nil:
			a, _ := netip.ParseAddr(n)
			a = a.Unmap()
			c.TLSIPs = append(c.TLSIPs, a)
			c.TLSRanges = append(c.TLSRanges, netip.PrefixFrom(a, a.BitLen()))
		default:
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if !validDNSName(n) {
				return key, fmt.Errorf("%q is not a host name, address or CIDR range", n)
			}
			c.TLSNames = append(c.TLSNames, n)
		}
	}
	switch c.TLSMode {
	case "off":
	case "files":
		if r.TLSCert == "" {
			return "tls_mode", errors.New(`"files" needs tls_cert and tls_key`)
		}
	case "local-ca":
		if len(c.TLSNames) == 0 && len(c.TLSIPs) == 0 && !c.TLSLANAddresses {
			return "tls_names", errors.New(`tls_mode "local-ca" needs names or addresses, or tls_lan_addresses`)
		}
	case "acme":
		if len(c.TLSNames) == 0 || len(c.TLSIPs) > 0 {
			return "tls_names", errors.New(`tls_mode "acme" needs the host's public DNS names, and no addresses (ACME CAs do not issue for them)`)
		}
	default:
		return "tls_mode", fmt.Errorf("%q is not off, files, local-ca or acme", c.TLSMode)
	}
	if c.TLSMode != "files" && r.TLSCert != "" {
		return "tls_cert", fmt.Errorf("tls_cert is for tls_mode \"files\", not %q", c.TLSMode)
	}
	if c.OnboardingListen != "" {
		if _, _, err := net.SplitHostPort(c.OnboardingListen); err != nil {
			return "onboarding_listen", err
		}
		if c.TLSMode == "off" {
			return "onboarding_listen", errors.New("is the plain-HTTP side of an HTTPS server: set tls_mode")
		}
	}
	return "", nil
}

// validDNSName accepts a lower-case host name: dot-separated labels of
// letters, digits and hyphens, not starting or ending with a hyphen.
func validDNSName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, ch := range label {
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

// TLS reports whether the listener serves HTTPS.
func (c Config) TLS() bool { return c.TLSMode != "off" && c.TLSMode != "" }

// DerivePublicURL is the base URL for a server listening on addr, for
// when public_url is not set: https with TLS, and the first of tls_names
// (a name, else an address) as its host when there is one.
func (c Config) DerivePublicURL(addr string) string {
	if c.TLS() {
		_, port, _ := net.SplitHostPort(addr)
		switch {
		case c.PublicHost != "":
			return "https://" + net.JoinHostPort(c.PublicHost, port)
		case len(c.TLSNames) > 0:
			return "https://" + net.JoinHostPort(c.TLSNames[0], port)
		case len(c.TLSIPs) > 0:
			return "https://" + net.JoinHostPort(c.TLSIPs[0].String(), port)
		}
	}
	return DerivePublicURL(addr, c.TLS())
}

// DerivePublicURL is the base URL for a server listening on addr: its host
// (localhost for a wildcard address) and port, over https when tls is set.
func DerivePublicURL(addr string, tls bool) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// publicURL returns the configured base URL without a trailing slash, or
// derives one from the listen address.
// SetPublicURL sets public_url from outside the file (HANGAR_PUBLIC_URL:
// a container knows the host's address only from its environment).
func (c *Config) SetPublicURL(s string) error {
	u, err := publicURL(s, "")
	if err != nil || u == "" {
		return fmt.Errorf("public URL %q: must be an http or https URL with a host and no query", s)
	}
	c.PublicURL, c.PublicURLDerived = u, false
	return nil
}

func publicURL(s, derived string) (string, error) {
	if s == "" {
		return derived, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must be an http or https URL with a host and no query", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// parsePrefix accepts a CIDR prefix or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so that "GiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseSize parses a byte size such as "4GiB", "512MiB", "100MB" or "1024".
// Binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB) units are case
// insensitive; a bare K, M, G or T is binary, as in nginx.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. \"4GiB\", \"512MiB\", \"100MB\")", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// parseSMTP reads [smtp]; on error it returns the key at fault. The
// password file is read when the server starts (it may be a systemd
// credential, readable only then).
func (c *Config) parseSMTP(r rawSMTP) (string, error) {
	if r == (rawSMTP{}) {
		return "", nil
	}
	c.SMTP = SMTP{Host: r.Host, Port: r.Port, TLS: r.TLS, Username: r.Username, Password: r.Password,
		PasswordFile: r.PasswordFile, From: r.From, CAFile: r.CAFile}
	if c.SMTP.TLS == "" {
		c.SMTP.TLS = "starttls"
	}
	switch {
	case r.Host == "" || strings.ContainsAny(r.Host, "/: ") && net.ParseIP(r.Host) == nil:
		return "smtp.host", errors.New("must be a host name or address, without a port (port is its own key)")
	case c.SMTP.TLS != "starttls" && c.SMTP.TLS != "tls" && c.SMTP.TLS != "none":
		return "smtp.tls", fmt.Errorf("%q is not starttls, tls or none", c.SMTP.TLS)
	case r.Password != "" && r.PasswordFile != "":
		return "smtp.password", errors.New("give password or password_file, not both")
	case r.Password != "" && r.Username == "":
		return "smtp.username", errors.New("a password needs a username")
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = map[string]int{"starttls": 587, "tls": 465, "none": 25}[c.SMTP.TLS]
	}
	if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
		return "smtp.port", errors.New("must be from 1 to 65535")
	}
	if r.From == "" {
		return "smtp.from", errors.New(`must be set: the sender address, "Hangar <hangar@example.com>"`)
	}
	a, err := mail.ParseAddress(r.From)
	if err != nil || strings.ContainsAny(r.From, "\r\n") {
		return "smtp.from", fmt.Errorf("%q is not an address", r.From)
	}
	c.SMTP.From = a.String()
	return "", nil
}

// validRole is package auth's list; config imports nothing of Hangar's.
func validRole(r string) bool {
	return r == "viewer" || r == "ci" || r == "developer" || r == "admin"
}

// parseLDAP reads [ldap]; on error it returns the key at fault.
func (c *Config) parseLDAP(r rawLDAP) (string, error) {
	if r.URL == "" {
		if r != (rawLDAP{}) {
			return "ldap.url", errors.New("must be set (ldap://host or ldaps://host) for the other [ldap] keys")
		}
		return "", nil
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "ldap.url", fmt.Errorf("%q is not ldap://host[:port] or ldaps://host[:port]", r.URL)
	}
	l := LDAP{URL: r.URL, StartTLS: r.StartTLS, CAFile: r.CAFile, BindDN: r.BindDN, BindPassword: r.BindPassword,
		BindPasswordFile: r.BindPasswordFile, UserBase: r.UserBase, UserFilter: r.UserFilter, GroupBase: r.GroupBase,
		GroupFilter: r.GroupFilter, MemberOf: r.MemberOf, UsernameAttr: r.UsernameAttr, EmailAttr: r.EmailAttr}
	switch {
	case r.StartTLS && u.Scheme == "ldaps":
		return "ldap.start_tls", errors.New("ldaps:// is TLS already")
	case r.BindPassword != "" && r.BindPasswordFile != "":
		return "ldap.bind_password", errors.New("give bind_password or bind_password_file, not both")
	case r.UserBase == "":
		return "ldap.user_base", errors.New("must be set: where people are searched")
	case !strings.Contains(r.UserFilter, "{username}"):
		return "ldap.user_filter", errors.New(`must hold {username}: "(&(objectClass=person)(uid={username}))"`)
	case !r.MemberOf && r.GroupFilter != "" && !strings.Contains(r.GroupFilter, "{dn}"):
		return "ldap.group_filter", errors.New(`must hold {dn}: "(&(objectClass=groupOfNames)(member={dn}))"`)
	case !r.MemberOf && r.GroupFilter != "" && r.GroupBase == "":
		return "ldap.group_base", errors.New("must be set with group_filter")
	}
	if l.UsernameAttr == "" {
		l.UsernameAttr = "uid"
	}
	if l.EmailAttr == "" {
		l.EmailAttr = "mail"
	}
	for _, d := range []struct {
		key, s string
		dst    *time.Duration
		def    time.Duration
	}{{"ldap.sync_interval", r.SyncInterval, &l.SyncInterval, 0}, {"ldap.timeout", r.Timeout, &l.Timeout, 5 * time.Second}} {
		*d.dst = d.def
		if d.s != "" {
			v, err := time.ParseDuration(d.s)
			if err != nil || v < 0 {
				return d.key, fmt.Errorf("%q is not a duration (\"15m\")", d.s)
			}
			*d.dst = v
		}
	}
	c.LDAP = l
	return "", nil
}

// validName is a provider's name: safe in a URL path and on a button.
func validName(n string) bool {
	if n == "" || len(n) > 32 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
