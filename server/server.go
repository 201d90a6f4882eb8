// Package server is Hangar's HTTP front. One route table (routes.go) lists
// every route with its front, its access rule and its handler (router.go
// mounts it); the file names say the front:
//
//   - api_*.go: the workspace API (Totis' Files & Public Links API and what
//     it assumes: workspaces, members, tokens, distributions, webhooks);
//   - org_*.go: Applivery's organization and Integrations APIs;
//   - console_*.go: the web console, one file a page or form;
//   - tester*.go: what testers open: a link's and a distribution's pages,
//     their unlock, installs, trust page and device registration;
//   - ops_*.go: the operations several fronts share, which know no HTTP;
//   - the rest is the core (server, routes, router, errors, middleware,
//     auth, json, urls, hosts, metrics, health) and delivery (download,
//     upload, qr).
//
// Handlers return errors; serve answers them in the shape of the route's
// front (errors.go). Every change of data goes through depot or, for
// metadata alone, store. docs/apis.md says what each API is.
package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"hangar/auth"
	"hangar/certs"
	"hangar/config"
	"hangar/depot"
	"hangar/directory"
	"hangar/mail"
	"hangar/store"
	"hangar/urlsign"
)

// Server serves Hangar's HTTP fronts. Create it with New.
type Server struct {
	depot *depot.Depot         // every change that touches blobs
	store *store.Store         // reads, and changes of metadata alone
	mail  *mail.Sender         // nil: no [smtp]
	dir   *directory.Directory // nil: no [ldap]
	// resets bounds the password resets being looked up at once (they
	// run after their answer: see forgotPassword).
	resets chan struct{}
	// assembling are the App Center uploads being made into builds
	// (appcenter_uploads.go), by upload ID; assembles counts them, for
	// the shutdown to wait for, and assembleCtx stops them when it can
	// wait no longer.
	assembling    sync.Map
	assembles     inflight
	assembleCtx   context.Context
	stopAssembles context.CancelFunc
	// ceremonies are passkey ceremonies under way (console_passkeys.go).
	ceremonies ceremonies
	// oidc are the OpenID Connect providers by lower-case name, their
	// sign-ins under way, and the client that talks to them
	// (console_oidc.go).
	oidc       map[string]*oidcProvider
	oidcFlows  oidcFlows
	oidcClient *http.Client
	cfg        config.Config
	log        *slog.Logger
	now        func() time.Time
	keys       *urlsign.Keyring
	// csrfKey makes the console's form tokens (see csrfToken).
	csrfKey []byte

	hasher *auth.Hasher
	// dummyHash is verified when a login names an unknown user, so that
	// the answer takes as long as for a wrong password.
	dummyHash    string
	loginPerIP   auth.Limiter
	loginPerUser auth.Limiter // keyed by username and network
	loginPerName auth.Limiter // keyed by username
	// codePer* limit wrong second-factor codes, as loginPer* passwords
	// (keyed by user ID).
	codePerIP, codePerUser, codePerName auth.Limiter
	// unlockKey signs the cookies that unlock password-protected tester
	// pages (see tester_unlock.go); unlockPer* limit wrong passwords.
	unlockKey     []byte
	enrollKey     []byte // device registration tokens (tester_devices.go)
	optOutKey     []byte // notifications' unsubscribe links (tester_unsubscribe.go)
	enrollPerIP   auth.Limiter
	enrollPerPage auth.Limiter
	// testerLinkPer* limit testers' sign-in links (tester_signin.go).
	testerLinkPerIP, testerLinkPerAddr auth.Limiter
	feedbackPerMember                  auth.Limiter // reports (tester_feedback.go)
	unlockPerIP                        auth.Limiter
	unlockPerTarget                    auth.Limiter
	unlockPerPage                      auth.Limiter
	tokenUse                           tokenUse
	metrics                            *metrics
	hosts                              *hosts         // the names URLs may be built on (hosts.go)
	oneTime                            oneTimeSecrets // secrets a console form made, shown once after its redirect
	// tls is the HTTPS listener's certificate source (nil: plain HTTP).
	tls *certs.Listener

	handler http.Handler
}

// Options are New's dependencies. Depot and Config are required.
type Options struct {
	Depot  *depot.Depot
	Config config.Config
	Logger *slog.Logger     // default: slog.Default()
	Now    func() time.Time // default: time.Now
	// Hasher hashes passwords; default: auth.DefaultParams, two at a time.
	Hasher *auth.Hasher
	// Mail sends the mail outbox; nil when there is no [smtp]: then
	// nothing is mailed, and every link that would be is shown instead.
	Mail *mail.Sender
	// Directory checks the sign-ins of people who are not local
	// accounts; nil when there is no [ldap].
	Directory *directory.Directory
}

// Failed logins allowed before 429: per client network (an IPv4 address,
// an IPv6 /64), 10 at once then one every 6 s; per username from one
// network, 5 at once then one every 12 s; per username from everywhere,
// as many (5, then one every 12 s: more networks buy no more guesses),
// after which only networks that have not been failing at that username
// get one guess each (see attempt). Only failures
// count (a correct password gives its attempts back), and nobody can lock
// a user out from somewhere else.
var (
	loginPerIP   = auth.Limiter{Burst: 10, Every: 6 * time.Second}
	loginPerUser = auth.Limiter{Burst: 5, Every: 12 * time.Second}
	loginPerName = auth.Limiter{Burst: 5, Every: 12 * time.Second}
)

// New returns a server over an open data directory. It loads the URL
// signing keys, creating the first one on a new database. The depot's
// background work (processing, housekeeping) is its owner's to start.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hasher == nil {
		o.Hasher = auth.NewHasher(auth.DefaultParams, 2)
	}
	dummy := o.Hasher.Unmatchable()
	st := o.Depot.Store()
	stored, err := st.SigningKeys()
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	keys := make([]urlsign.Key, len(stored))
	for i, k := range stored {
		keys[i] = urlsign.Key{ID: k.ID, Secret: k.Secret}
	}
	s := &Server{
		csrfKey:   derive(stored[0].Secret, "hangar console csrf"),
		unlockKey: derive(stored[0].Secret, "hangar tester page unlock"),
		enrollKey: derive(stored[0].Secret, "hangar device enrollment"),
		optOutKey: derive(stored[0].Secret, "hangar notification unsubscribe"),
		depot:     o.Depot,
		store:     st,
		mail:      o.Mail,
		dir:       o.Directory,
		resets:    make(chan struct{}, 4),
		oidc:      map[string]*oidcProvider{},
		// A provider that hangs must not hold a sign-in for long.
		oidcClient: &http.Client{Timeout: 15 * time.Second},
		cfg:        o.Config,
		log:        o.Logger,
		now:        o.Now,
		keys:       urlsign.NewKeyring(keys),

		hasher:            o.Hasher,
		dummyHash:         dummy,
		loginPerIP:        auth.Limiter{Burst: loginPerIP.Burst, Every: loginPerIP.Every},
		loginPerUser:      auth.Limiter{Burst: loginPerUser.Burst, Every: loginPerUser.Every},
		loginPerName:      auth.Limiter{Burst: loginPerName.Burst, Every: loginPerName.Every},
		codePerIP:         auth.Limiter{Burst: loginPerIP.Burst, Every: loginPerIP.Every},
		codePerUser:       auth.Limiter{Burst: loginPerUser.Burst, Every: loginPerUser.Every},
		codePerName:       auth.Limiter{Burst: loginPerName.Burst, Every: loginPerName.Every},
		unlockPerPage:     auth.Limiter{Burst: unlockPerPage.Burst, Every: unlockPerPage.Every},
		unlockPerIP:       auth.Limiter{Burst: unlockPerIP.Burst, Every: unlockPerIP.Every},
		unlockPerTarget:   auth.Limiter{Burst: unlockPerTarget.Burst, Every: unlockPerTarget.Every},
		enrollPerIP:       auth.Limiter{Burst: enrollPerIP.Burst, Every: enrollPerIP.Every},
		enrollPerPage:     auth.Limiter{Burst: enrollPerPage.Burst, Every: enrollPerPage.Every},
		testerLinkPerIP:   auth.Limiter{Burst: testerLinkPerIP.Burst, Every: testerLinkPerIP.Every},
		testerLinkPerAddr: auth.Limiter{Burst: testerLinkPerAddr.Burst, Every: testerLinkPerAddr.Every},
		feedbackPerMember: auth.Limiter{Burst: feedbackPerMember.Burst, Every: feedbackPerMember.Every},
		metrics:           newMetrics(o.Depot),
		hosts:             newHosts(o.Config),
	}
	s.assembleCtx, s.stopAssembles = context.WithCancel(context.Background())
	for _, o := range o.Config.OIDC {
		s.oidc[strings.ToLower(o.Name)] = &oidcProvider{cfg: o}
	}
	if s.tls, err = certs.New(o.Config, o.Logger, o.Now); err != nil {
		return nil, err
	}
	s.handler = s.logRequests(s.routes())
	return s, nil
}

// derive makes a key for one purpose from the first signing key.
func derive(secret []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// ServeHTTP makes the server usable with httptest.NewServer. Two headers
// go on every answer: nosniff (nothing Hangar serves is to be read as
// another type than it says: manifests, QR codes, profiles, downloads),
// and over HTTPS, HSTS, so that a browser that reached Hangar over HTTPS
// once does not come back over plain HTTP (the onboarding listener, which
// is plain HTTP on purpose, never sends it; browsers ignore it for
// addresses, which a LAN often uses).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", hsts)
	}
	s.handler.ServeHTTP(w, r)
}

// hsts is a year, for this host only: the name may be a parent of others
// that Hangar knows nothing of.
const hsts = "max-age=31536000"

// Serve accepts connections on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets running requests finish for up to the
// configured shutdown timeout, and returns. It serves TLS when the config
// names a certificate.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.httpServer(s)
	if s.tls != nil {
		hs.TLSConfig = s.tls.TLSConfig()
		renewDone := make(chan struct{})
		defer close(renewDone)
		go s.tls.Run(renewDone, time.Hour)
	}

	flushCtx, stopFlush := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		s.flushTokenUseEvery(flushCtx, tokenUseFlushEvery)
	}()
	defer func() {
		stopFlush()
		<-flushed
	}()
	deadline, err := s.run(ctx, hs, ln)
	if !deadline.IsZero() {
		s.finishAssembles(deadline)
	}
	return err
}

// finishAssembles waits for the App Center uploads being made into
// builds, until deadline (the HTTP shutdown's, counted from the signal);
// then it stops them. A stopped one leaves no build and stays finished:
// the client's next poll, after the restart, makes it again.
func (s *Server) finishAssembles(deadline time.Time) {
	done := s.assembles.idle()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	s.log.Warn("shutdown: stopping the App Center uploads being made into builds; they are made again after the restart")
	s.stopAssembles()
	<-done
}

// ServeOnboarding serves the plain-HTTP onboarding listener on ln until
// ctx is done: the trust page and the CA downloads (a phone that does not
// trust the CA yet can fetch them), ACME's HTTP-01 challenges in that
// mode, and a redirect to HTTPS for everything else.
func (s *Server) ServeOnboarding(ctx context.Context, ln net.Listener) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trust", "/trust/ca.crt", "/trust/ca.mobileconfig":
			s.ServeHTTP(w, r)
			return
		}
		code := http.StatusTemporaryRedirect // keeps the method and body
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			code = http.StatusFound
		}
		http.Redirect(w, r, s.httpsURL(r, r.URL.RequestURI()), code)
	})
	_, err := s.run(ctx, s.httpServer(s.tls.HTTPHandler(h)), ln)
	return err
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// Slow headers are an attack; slow bodies are a 4 GiB upload over
		// Wi-Fi. So the header read has a deadline, a body only an idle one
		// (see idleBody), and idle keep-alive connections are closed.
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext:       withConn, // for cork
	}
}

// run serves hs on ln until ctx is done, then shuts it down gracefully:
// it stops accepting, lets running requests finish for up to the
// configured shutdown timeout, and returns. After a shutdown it returns
// that timeout's deadline, which other work stopping with it keeps to.
func (s *Server) run(ctx context.Context, hs *http.Server, ln net.Listener) (deadline time.Time, err error) {
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "") // ServeTLS, not a TLS listener: it enables HTTP/2
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return time.Time{}, err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "addr", ln.Addr().String(), "timeout", s.cfg.ShutdownTimeout)
	deadline = time.Now().Add(s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return deadline, fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return deadline, err
	}
	return deadline, nil
}

// flushTokenUseEvery writes token last-used times periodically until ctx is
// done, then once more.
func (s *Server) flushTokenUseEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			if err := s.FlushTokenUse(); err != nil {
				s.log.Error("record token use", "err", err)
			}
			return
		}
		if err := s.FlushTokenUse(); err != nil {
			s.log.Error("record token use", "err", err)
		}
	}
}

// ReloadTLS loads tls_cert and tls_key again (after a renewal) for new
// connections. On error the certificate in use stays. Other modes renew
// their certificates themselves: it does nothing then.
func (s *Server) ReloadTLS() error { return s.tls.Reload() }

// inflight counts background work that the shutdown waits for. Unlike a
// WaitGroup it may be waited for while work still starts (requests of
// another listener).
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n--; f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

// idle is closed once no work is in flight.
func (f *inflight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	return f.zero
}
