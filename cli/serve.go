package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"hangar/auth"
	"hangar/config"
	"hangar/depot"
	"hangar/directory"
	"hangar/mail"
	"hangar/sdnotify"
	"hangar/server"
	"hangar/store"
	"hangar/webhook"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("hangar serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "TOML configuration `file` (default: embedded defaults)")
	listen := fs.String("listen", "", "`address` to listen on, e.g. 0.0.0.0:8080 for the LAN (default: $HANGAR_LISTEN, then the config's listen; $HANGAR_PUBLIC_URL sets public_url)")
	lan := fs.Bool("lan", false, "serve the LAN: every interface (0.0.0.0:8443), HTTPS from the local CA for this machine's name and LAN addresses, the trust page on plain HTTP (0.0.0.0:8080), links naming the primary LAN address")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hangar serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(stderr, "hangar: config %v\n", err)
			return exitFailure
		}
	}
	// Serving the LAN should not need a config file: the flag, then the
	// environment (a systemd drop-in, a container), then the config.
	if addr := cmp.Or(*listen, os.Getenv("HANGAR_LISTEN")); addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			fmt.Fprintf(stderr, "hangar serve: -listen %q: %v\n", addr, err)
			return exitUsage
		}
		cfg.Listen = addr
	}
	if u := os.Getenv("HANGAR_PUBLIC_URL"); u != "" {
		if err := cfg.SetPublicURL(u); err != nil {
			fmt.Fprintf(stderr, "hangar serve: HANGAR_PUBLIC_URL: %v\n", err)
			return exitUsage
		}
	}
	if *lan {
		applyLAN(&cfg, cmp.Or(*listen, os.Getenv("HANGAR_LISTEN")) != "")
	}
	if err := serve(ctx, cfg, newLogger(cfg, stderr), stderr, *lan); err != nil {
		fmt.Fprintf(stderr, "hangar: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve opens the data directory and runs the server until ctx is done.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer, lan bool) error {
	// A missing or empty database beside stored blobs is refused (a new
	// instance on it would print a new admin token and treat every blob
	// as an orphan).
	bucket, err := openBucket(cfg)
	if err != nil {
		return err
	}
	d, err := depot.Open(cfg.DataDir, depot.Options{Config: cfg, Logger: log, S3: bucket})
	if err != nil {
		return err
	}
	defer d.Close()
	st := d.Store()

	// A first start also makes an "admin" user for the web console; its
	// password is hashed only then (a hash costs 64 MiB for a moment).
	var password, hash string
	if fresh, err := st.Fresh(); err != nil {
		return err
	} else if fresh {
		password = auth.NewPassword()
		if hash, err = auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, password); err != nil {
			return err
		}
	}
	token, err := st.Bootstrap(hash)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if token != "" {
		// Written to a file only this service's user reads (Jenkins'
		// initialAdminPassword), not to the journal, which keeps them
		// for good; the database holds only their hashes.
		path, err := d.WriteFirstCredentials(token, password)
		if err != nil {
			return fmt.Errorf("first start: %w", err)
		}
		fmt.Fprintf(stderr, "\nFirst start: created the instance admin (a service account and the console user \"admin\").\nTheir token and password are in %s (readable by this user only);\nthe file goes when admin changes the password.\n\n", path)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.PublicURLDerived {
		cfg.PublicURL = cfg.DerivePublicURL(ln.Addr().String())
	}
	var sender *mail.Sender
	if cfg.SMTP.Host != "" {
		if sender, err = mail.New(cfg.SMTP, st, log, nil); err != nil {
			ln.Close()
			return err
		}
	}
	var dir *directory.Directory
	if cfg.LDAP.URL != "" {
		if dir, err = directory.New(cfg.LDAP); err != nil {
			ln.Close()
			return err
		}
		defer dir.Close()
	}
	srv, err := server.New(server.Options{Depot: d, Config: cfg, Logger: log, Mail: sender, Directory: dir})
	if err != nil {
		ln.Close()
		return err
	}
	// Processing and housekeeping stop with ctx, after the HTTP server:
	// a worker finishes the package it is reading; the rest stay queued.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	waitBackground, err := d.Start(bgCtx)
	if err != nil {
		stopBackground()
		ln.Close()
		return err
	}
	// Webhook deliveries go out in the background too; what is pending at
	// shutdown stays in the outbox for the next start.
	deliverer := webhook.New(webhook.Options{Store: st, BaseURL: cfg.PublicURL, Allowed: cfg.WebhookAllowedNetworks, RefusePrivate: cfg.WebhookRefusePrivate, Logger: log})
	webhooksDone := make(chan struct{})
	go func() { defer close(webhooksDone); deliverer.Run(bgCtx, time.Second) }()
	// The directory's sync takes access away from people it no longer
	// lists, without waiting for their next sign-in.
	go srv.SyncDirectory(bgCtx)
	// Notifications become mail in the background; jobs left at shutdown
	// wait in the database.
	notifyDone := make(chan struct{})
	go func() { defer close(notifyDone); srv.RunNotifications(bgCtx, time.Second) }()
	// So does mail; what is queued at shutdown is sent after the next start.
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		if sender != nil {
			sender.Run(bgCtx, 5*time.Second)
		}
	}()
	defer func() { stopBackground(); waitBackground(); <-webhooksDone; <-mailDone; <-notifyDone }()
	log.Info("hangar listening", "version", Version, "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "data_dir", cfg.DataDir)
	if err := sdnotify.Notify("READY=1\nSTATUS=serving on " + ln.Addr().String()); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	go watchdog(ctx, st, log)
	go reloadOnHangup(ctx, srv, log)
	if cfg.OnboardingListen != "" {
		oln, err := net.Listen("tcp", cfg.OnboardingListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("onboarding_listen: %w", err)
		}
		if lan {
			printLAN(stderr, cfg, oln.Addr().String())
		}
		log.Info("onboarding listener (plain HTTP: the trust page, the rest redirected to HTTPS)", "addr", oln.Addr().String())
		onboardingDone := make(chan error, 1)
		octx, stopOnboarding := context.WithCancel(ctx) // also when Serve fails
		go func() { onboardingDone <- srv.ServeOnboarding(octx, oln) }()
		defer func() {
			stopOnboarding()
			if err := <-onboardingDone; err != nil {
				log.Error("onboarding listener", "err", err)
			}
		}()
	}
	err = srv.Serve(ctx, ln)
	sdnotify.Notify("STOPPING=1")
	return err
}

// reloadOnHangup reloads the TLS certificate on SIGHUP (systemctl reload),
// so a renewed certificate needs no restart.
func reloadOnHangup(ctx context.Context, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if err := srv.ReloadTLS(); err != nil {
			log.Error("TLS reload failed; keeping the certificate in use", "err", err)
			continue
		}
		log.Info("reloaded the TLS certificate")
	}
}

// watchdog tells systemd the server is alive, as long as the database still
// answers a read: a wedged store then gets the service restarted.
func watchdog(ctx context.Context, st *store.Store, log *slog.Logger) {
	every := sdnotify.WatchdogInterval()
	if every == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := st.SchemaVersion(); err != nil {
			log.Error("database check failed; not feeding the watchdog", "err", err)
			continue
		}
		sdnotify.Notify("WATCHDOG=1")
	}
}
