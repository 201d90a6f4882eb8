// Package webhook delivers the events the store records (store.Event) to
// webhooks: signed, in order per webhook, at least once, retried with
// backoff, over a client that will not reach loopback, link-local or
// metadata addresses (checked at connect time, after DNS).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"hangar/store"
)

// Options are New's settings. Store is required.
type Options struct {
	Store *store.Store
	// BaseURL is where the URLs in payloads point (public_url).
	BaseURL string
	// Allowed are ranges to reach even though they are refused by default.
	Allowed []netip.Prefix
	// RefusePrivate also refuses private ranges (see Allowed): for an
	// instance whose webhooks all go to the internet.
	RefusePrivate bool
	// Timeout bounds one attempt, from connecting to the end of the
	// answer's (bounded) body. Default 10 s.
	Timeout time.Duration
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
	// Workers send to this many webhooks at once (each webhook's
	// deliveries one at a time, in order). Default 4.
	Workers int
}

// The retry schedule: the n-th failure waits base·2^(n-1), at most maxWait,
// ±20 %; a delivery is given up window after it was created; a webhook
// failing for disableAfter is turned off, with the reason.
const (
	base         = 10 * time.Second
	maxWait      = time.Hour
	window       = 24 * time.Hour
	disableAfter = 72 * time.Hour
	// maxBody is how much of a receiver's answer is read (and thrown
	// away: a receiver's words are never kept or shown, or a workspace
	// admin could read internal services through them).
	maxBody = 64 << 10
)

// ErrRefusedAddress is a connection to an address webhooks may not reach.
var ErrRefusedAddress = errors.New("address refused for webhooks")

// Deliverer sends pending deliveries.
type Deliverer struct {
	o      Options
	client *http.Client
}

// New returns a Deliverer.
func New(o Options) *Deliverer {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers < 1 {
		o.Workers = 4
	}
	d := &Deliverer{o: o}
	dialer := &net.Dialer{Timeout: o.Timeout, Control: d.control}
	d.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would connect for us, past the address check
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   o.Timeout,
			ResponseHeaderTimeout: o.Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		},
		// A redirect could point anywhere (the address check would still
		// hold, but the receiver is the URL the admin gave): not followed,
		// and a 3xx is a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d
}

// control checks the address a connection is about to be made to: the
// resolved one, so that a name cannot resolve to a refused address
// between a check and the connection.
func (d *Deliverer) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !Allowed(ip, d.o.Allowed, d.o.RefusePrivate) {
		return fmt.Errorf("%w: %s", ErrRefusedAddress, ip)
	}
	return nil
}

// metadata are cloud metadata services outside the link-local range.
var metadata = []netip.Prefix{
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS over IPv6
	netip.MustParsePrefix("fd20:ce::254/128"),   // Google Cloud over IPv6
}

// refused4 are IPv4 ranges never reached besides loopback, link-local and
// multicast: "this network" (0/8, which Linux connects to the machine
// itself) and the reserved 240/4 with the broadcast address.
var refused4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// IPv6 ranges that carry an IPv4 address a gateway would reach: each is
// judged as that IPv4 address. Ranges whose embedding cannot be read
// (local-use NAT64 with its own prefix length, Teredo's obfuscated
// client) are refused whole.
var (
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	compatible  = netip.MustParsePrefix("::/96")           // IPv4-compatible ::a.b.c.d (deprecated)
	translated  = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (SIIT)
	sixToFour   = netip.MustParsePrefix("2002::/16")
	unreadable6 = []netip.Prefix{
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
		netip.MustParsePrefix("2001::/32"),      // Teredo
	}
)

// privateRanges are what RefusePrivate refuses: RFC 1918, shared address
// space (carrier-grade NAT, also used inside clouds), unique local IPv6
// and the deprecated site-local IPv6.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fec0::/10"),
}

// embedded returns the IPv4 address an IPv6 address carries to a
// gateway, or ip itself.
func embedded(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is4() {
		return ip
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip), translated.Contains(ip),
		compatible.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback():
		return netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6]))
	}
	return ip
}

// Allowed reports whether webhooks may connect to ip. Refused: loopback,
// link-local (169.254.169.254 among them), multicast, unspecified, "this
// network" (0/8), reserved 240/4 and broadcast, cloud metadata addresses,
// and (with refusePrivate) private ranges; an IPv6 address that carries an
// IPv4 one (NAT64, 6to4, IPv4-mapped, -compatible and -translated) is
// judged as that IPv4 address, and local-use NAT64 and Teredo are refused
// whole. allowed overrides all of it for the ranges it lists. Private
// ranges are allowed by default: this is a LAN appliance, and chat servers
// (Mattermost, a CI's hook) are often on the LAN.
func Allowed(ip netip.Addr, allowed []netip.Prefix, refusePrivate bool) bool {
	ip = ip.Unmap()
	v4 := embedded(ip)
	if inAny(ip, allowed) || inAny(v4, allowed) {
		return true
	}
	if inAny(ip, unreadable6) {
		return false
	}
	for _, a := range []netip.Addr{ip, v4} {
		switch {
		case a.IsLoopback(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsMulticast(),
			a.IsInterfaceLocalMulticast(), a.IsUnspecified(), inAny(a, metadata), inAny(a, refused4):
			return false
		case refusePrivate && (a.IsPrivate() || inAny(a, privateRanges)):
			return false
		}
	}
	return true
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Run sends due deliveries every interval until ctx is done.
func (d *Deliverer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		d.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce sends, for every active webhook whose oldest pending delivery is
// due, that delivery and the ones after it that are due, in order, and
// returns when all have been tried once.
func (d *Deliverer) RunOnce(ctx context.Context) {
	hooks, err := d.o.Store.AllWebhooks()
	if err != nil {
		d.o.Logger.Error("webhooks: list", "err", err)
		return
	}
	sem := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	for _, w := range hooks {
		if !w.Active || w.Pending == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.drain(ctx, w)
		}()
	}
	wg.Wait()
}

// drain sends w's due deliveries in order, stopping at the first that
// fails (the ones after it wait: receivers see events in order).
func (d *Deliverer) drain(ctx context.Context, w store.Webhook) {
	for ctx.Err() == nil {
		del, ok, err := d.o.Store.NextDelivery(w.ID)
		if err != nil {
			d.o.Logger.Error("webhooks: next delivery", "webhook", w.ID, "err", err)
			return
		}
		if !ok || del.NextAttempt.After(d.o.Now()) {
			return
		}
		out := d.attempt(ctx, w, del)
		if err := d.o.Store.RecordAttempt(w.ID, del.Seq, out); err != nil {
			d.o.Logger.Error("webhooks: record attempt", "webhook", w.ID, "delivery", del.ID, "err", err)
			return
		}
		if out.Disable != "" {
			d.o.Logger.Warn("webhook disabled", "webhook", w.ID, "reason", out.Disable)
			return
		}
		if !out.Delivered {
			return
		}
		w.FailingSince = time.Time{}
	}
}

// attempt sends one delivery and says what came of it.
func (d *Deliverer) attempt(ctx context.Context, w store.Webhook, del store.Delivery) store.Outcome {
	now := d.o.Now()
	body, err := d.render(w, del.Event)
	a := store.Attempt{Time: now.UTC()}
	if err == nil {
		start := time.Now()
		a.Status, err = d.send(ctx, w, del, body, now)
		a.LatencyMS = time.Since(start).Milliseconds()
	}
	if err == nil {
		return store.Outcome{Attempt: a, Delivered: true}
	}
	a.Error = err.Error()
	d.o.Logger.Info("webhook delivery failed", "webhook", w.ID, "delivery", del.ID, "status", a.Status, "err", a.Error)
	out := store.Outcome{Attempt: a}
	if now.Sub(del.CreatedAt) < window {
		wait := min(base<<min(del.Tries, 20), maxWait)
		wait = time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		out.Next = now.Add(wait)
	}
	failing := w.FailingSince
	if failing.IsZero() {
		failing = now
	}
	if now.Sub(failing) >= disableAfter {
		out.Disable = fmt.Sprintf("disabled at %s: every delivery failed since %s (last: %s)",
			now.UTC().Format(time.RFC3339), failing.UTC().Format(time.RFC3339), a.Error)
	}
	return out
}

// Sign is the X-Hangar-Signature of body at time t: t=UNIX,v1=HEX, HEX
// being the HMAC-SHA256 of "UNIX.body" under the webhook's secret.
func Sign(secret string, t time.Time, body []byte) string {
	unix := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unix + "."))
	mac.Write(body)
	return "t=" + unix + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

func (d *Deliverer) send(ctx context.Context, w store.Webhook, del store.Delivery, body []byte, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Hangar-Webhook/1")
	h.Set("X-Hangar-Event", del.Event.Type)
	h.Set("X-Hangar-Delivery", del.ID)
	h.Set("X-Hangar-Signature", Sign(w.Secret, now, body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, errorClass(err)
	}
	defer resp.Body.Close()
	// Read (a bounded part, so the connection can be kept) and drop.
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// errorClass turns a failed request into one of a few fixed sentences:
// what went wrong, never what a receiver or a resolver said, and never the
// URL (a chat webhook's carries its secret in the path or query).
func errorClass(err error) error {
	var (
		dnsErr *net.DNSError
		opErr  *net.OpError
	)
	switch {
	case errors.Is(err, ErrRefusedAddress):
		// The address Hangar refused (after DNS): Hangar's decision, not
		// the receiver's words.
		var addr string
		if errors.As(err, &opErr) && opErr.Addr != nil {
			addr, _, _ = net.SplitHostPort(opErr.Addr.String())
		}
		return fmt.Errorf("%w: %s", ErrRefusedAddress, addr)
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return errors.New("timed out")
	case errors.As(err, &dnsErr):
		return errors.New("the receiver's name could not be resolved")
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return errors.New("network unreachable")
	case isTLS(err):
		return errors.New("TLS handshake failed")
	}
	return errors.New("the connection failed")
}

func isTLS(err error) bool {
	var (
		rec   tls.RecordHeaderError
		cert  *tls.CertificateVerificationError
		alert tls.AlertError
	)
	return errors.As(err, &rec) || errors.As(err, &cert) || errors.As(err, &alert)
}
