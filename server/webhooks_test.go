package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hangar/store"
	"hangar/webhook"
)

// receiver is a webhook receiver that checks each delivery's signature as
// the README tells receivers to, and keeps what it got.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []received
	answer func(n int) int // the status of the n-th request (from 0)
	srv    *httptest.Server
	now    func() time.Time
}

type received struct {
	event, delivery string
	payload         webhook.Payload
	raw             []byte
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	rc := &receiver{t: t, answer: func(int) int { return 204 }, now: now}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// verify is a receiver's check: the signature over "t.body" under the
// secret, in constant time, within a five-minute replay window.
func verify(secret, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("no timestamp in %q", header)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("outside the replay window: %v", d)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", unix)
	mac.Write(body)
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(sig)) {
		return fmt.Errorf("bad signature")
	}
	return nil
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.got)
	var p webhook.Payload
	json.Unmarshal(body, &p)
	rc.got = append(rc.got, received{event: r.Header.Get("X-Hangar-Event"), delivery: r.Header.Get("X-Hangar-Delivery"), payload: p, raw: body})
	secret := rc.secret
	rc.mu.Unlock()
	if err := verify(secret, r.Header.Get("X-Hangar-Signature"), body, rc.now()); err != nil || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("delivery %s: %v", r.Header.Get("X-Hangar-Delivery"), err)
	}
	code := rc.answer(n)
	w.WriteHeader(code)
	if code >= 300 {
		// What an internal service would show a workspace admin who aims
		// a webhook at it: never kept or shown.
		io.WriteString(w, "internal-service-answer")
	}
}

func (rc *receiver) events() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// deliverer is the server's delivery worker for a test: on the env's
// clock, allowed to reach the test's receivers on loopback.
func (e *env) deliverer(timeout time.Duration) *webhook.Deliverer {
	return webhook.New(webhook.Options{Store: e.store, BaseURL: e.ts.URL, Now: e.clock, Timeout: timeout,
		Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
}

func (e *env) webhook(admin, scope, url, events string) (id, secret string) {
	e.t.Helper()
	var w struct{ ID, Secret string }
	e.mustReq(http.StatusCreated, "POST", scope+"/webhook", admin, fmt.Sprintf(`{"url":%q,"events":[%s]}`, url, events), &w)
	return w.ID, w.Secret
}

// Every event type reaches a real receiver, signed, with its payload, in
// the order the changes happened; the workspace-wide webhook gets the same
// events; one that wants only some gets only those.
func TestWebhookEvents(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	rc := newReceiver(t, e.clock)
	_, rc.secret = e.webhook(admin, projPath, rc.srv.URL+"/hook", `"*"`)
	wide := newReceiver(t, e.clock)
	_, wide.secret = e.webhook(admin, "/api/v1/workspace/acme", wide.srv.URL, `"build.processed","link.limit_reached"`)
	e.distribution(admin, `{"slug":"beta"}`)

	b := e.orgUpload(admin, part{"versionName", "", "2.0"}, part{"notifyCollaborators", "", "true"}, part{"notifyMessage", "", "Enjoy"},
		part{"deployer.info.branch", "", "main"}, part{"deployer.info.commit", "", "abc123"}, part{"build", "App.ipa", demoIPA()})
	e.waitProcessed(b.ID)
	var link struct{ PublicLinkID, PublicURL string }
	files, _ := e.store.Files(b.ID)
	e.mustReq(201, "POST", projPath+"/build/files/"+files[0].ID+"/public-link", admin, `{"downloadLimit":1}`, &link)
	do(t, "GET", link.PublicURL, nil) // uses it up
	broken := e.upload(admin, part{"file", "broken.ipa", "not a zip"})
	e.waitProcessed(broken.BuildID)
	e.mustReq(204, "DELETE", projPath+"/build/"+broken.BuildID, admin, "", nil)

	e.deliverer(5 * time.Second).RunOnce(context.Background())
	var types []string
	for _, r := range rc.events() {
		types = append(types, r.event)
		if r.payload.Type != r.event || r.payload.Workspace.Slug != "acme" || r.payload.Project.Slug != "app" || r.payload.ID == "" {
			t.Errorf("%s payload: %s", r.event, r.raw)
		}
	}
	want := "build.created build.processed distribution.updated link.created link.limit_reached build.created build.failed build.deleted"
	if strings.Join(types, " ") != want {
		t.Fatalf("events %v, want %s", types, want)
	}
	got := rc.events()
	created, processed := got[0].payload, got[1].payload
	if created.Notify == nil || !created.Notify.Collaborators || created.Notify.Message != "Enjoy" || created.Build.GitBranch != "main" {
		t.Errorf("build.created: %s", got[0].raw)
	}
	if p := processed.Build; p.AppName != "Demo App" || p.Version != "2.0" || p.BuildNumber != "241" || p.Platform != "ios" ||
		p.GitCommit != "abc123" || p.URL != e.ts.URL+"/w/acme/p/app/b/"+b.ID || p.Status != "processed" {
		t.Errorf("build.processed: %s", got[1].raw)
	}
	if d := got[2].payload.Distribution; d == nil || d.URL != e.ts.URL+"/d/acme/beta" {
		t.Errorf("distribution.updated: %s", got[2].raw)
	}
	if l := got[4].payload.Link; l == nil || l.PublicURL != link.PublicURL || l.InstallURL != e.ts.URL+"/p/"+link.PublicLinkID || l.AccessCount != 1 {
		t.Errorf("link.limit_reached: %s", got[4].raw)
	}
	if f := got[6].payload.Build; f.Error == "" || f.Status != "error" {
		t.Errorf("build.failed: %s", got[6].raw)
	}
	var wideTypes []string
	for _, r := range wide.events() {
		wideTypes = append(wideTypes, r.event)
	}
	if strings.Join(wideTypes, " ") != "build.processed link.limit_reached" {
		t.Errorf("workspace webhook got %v", wideTypes)
	}
	// Delivered: nothing is sent twice.
	e.deliverer(5 * time.Second).RunOnce(context.Background())
	if n := len(rc.events()); n != len(types) {
		t.Errorf("%d requests after a second round, want %d", n, len(types))
	}
	// The server's and the worker's log lines name webhooks, never their
	// secrets.
	if logs := e.logs.String(); strings.Contains(logs, rc.secret) || strings.Contains(logs, wide.secret) || !strings.Contains(logs, "webhook created") {
		t.Errorf("the log shows a secret, or nothing: %s", logs)
	}
}

// A receiver that is down: retries follow the backoff on the webhook's
// clock, later events wait for the first (order holds), every attempt is
// in the delivery log, and a delivery can be sent again by hand with its
// ID.
func TestWebhookRetriesInOrder(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	rc := newReceiver(t, e.clock)
	rc.answer = func(n int) int {
		if n < 2 {
			return 503
		}
		return 200
	}
	var hook string
	hook, rc.secret = e.webhook(admin, projPath, rc.srv.URL, `"build.created"`)
	first := e.upload(admin, part{"file", "a.zip", "a"})
	second := e.upload(admin, part{"file", "b.zip", "b"})
	d := e.deliverer(5 * time.Second)
	ctx := context.Background()
	d.RunOnce(ctx) // fails (503); the second waits behind it
	d.RunOnce(ctx) // not due yet: nothing
	if n := len(rc.events()); n != 1 {
		t.Fatalf("%d requests, want 1 (the retry is not due)", n)
	}
	e.advance(7 * time.Second) // under the first wait (10 s −20 %)
	d.RunOnce(ctx)
	if n := len(rc.events()); n != 1 {
		t.Fatalf("retried before the backoff: %d requests", n)
	}
	e.advance(6 * time.Second) // 13 s: past 10 s +20 %
	d.RunOnce(ctx)             // fails again; next in 20 s ±20 %
	e.advance(25 * time.Second)
	d.RunOnce(ctx) // delivered, then the second follows at once
	got := rc.events()
	if len(got) != 4 || got[0].delivery != got[1].delivery || got[1].delivery != got[2].delivery ||
		got[2].payload.Build.ID != first.BuildID || got[3].payload.Build.ID != second.BuildID {
		t.Fatalf("requests: %+v", got)
	}
	var log []struct {
		ID, State string
		Tries     int
		Attempts  []struct {
			Status int
			Error  string
		}
	}
	e.mustReq(200, "GET", projPath+"/webhook/"+hook+"/deliveries", admin, "", &log)
	if strings.Contains(e.logs.String(), rc.secret) || !strings.Contains(e.logs.String(), "webhook delivery failed") {
		t.Error("the worker's log shows the secret, or no failure")
	}
	if len(log) != 2 || log[1].State != "delivered" || log[1].Tries != 3 || log[1].Attempts[0].Status != 503 || log[1].Attempts[2].Status != 200 ||
		log[1].Attempts[0].Error != "the receiver answered 503" {
		t.Fatalf("delivery log: %+v", log)
	}
	if strings.Contains(e.logs.String(), "internal-service-answer") {
		t.Error("the worker's log shows what the receiver answered")
	}
	// Sent again by hand: the same delivery ID, after anything pending.
	e.mustReq(202, "POST", projPath+"/webhook/"+hook+"/deliveries/"+log[1].ID+"/redeliver", admin, "", nil)
	d.RunOnce(ctx)
	if got = rc.events(); len(got) != 5 || got[4].delivery != log[1].ID {
		t.Fatalf("redelivery: %+v", got)
	}
	var hooks []struct {
		Pending      int
		FailingSince *time.Time
	}
	e.mustReq(200, "GET", projPath+"/webhook", admin, "", &hooks)
	if len(hooks) != 1 || hooks[0].Pending != 0 || hooks[0].FailingSince != nil {
		t.Errorf("webhook after recovery: %+v", hooks)
	}
}

// A receiver that never recovers: the delivery is given up after 24 hours
// and the webhook disabled after three days of failures, with the reason.
func TestWebhookGivesUpAndDisables(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	rc := newReceiver(t, e.clock)
	rc.answer = func(int) int { return 500 }
	var hook string
	hook, rc.secret = e.webhook(admin, projPath, rc.srv.URL, `"build.created"`)
	d := e.deliverer(5 * time.Second)
	for day := range 4 {
		e.upload(admin, part{"file", "a.zip", fmt.Sprint(day)})
		for range 30 {
			d.RunOnce(context.Background())
			e.advance(time.Hour)
		}
	}
	w, _ := e.store.Webhook(hook)
	if w.Active || !strings.Contains(w.DisabledReason, "every delivery failed since") {
		t.Fatalf("webhook: %+v", w)
	}
	ds, _, _ := e.store.Deliveries(hook, store.Page{})
	if ds[len(ds)-1].State != store.DeliveryFailed {
		t.Errorf("oldest delivery: %s after %d tries", ds[len(ds)-1].State, ds[len(ds)-1].Tries)
	}
	// Turned on again by hand, it starts from a clean slate.
	e.mustReq(200, "PATCH", projPath+"/webhook/"+hook, admin, `{"active":true}`, nil)
	if w, _ = e.store.Webhook(hook); !w.Active || w.DisabledReason != "" || !w.FailingSince.IsZero() {
		t.Errorf("re-enabled: %+v", w)
	}
}

// Addresses webhooks may not reach, checked where the connection is made:
// loopback (by address and by a name that resolves to it), link-local and
// the metadata service; a redirect is not followed.
func TestWebhookRefusedAddresses(t *testing.T) {
	// The addresses themselves are checked in package webhook
	// (TestAllowed, and a routed request to each); here, through the
	// server's deliveries.

	e := newEnv(t)
	admin := e.adminToken()
	target := newReceiver(t, e.clock)
	port := target.srv.URL[strings.LastIndexByte(target.srv.URL, ':')+1:]
	refused := webhook.New(webhook.Options{Store: e.store, BaseURL: e.ts.URL, Now: e.clock})
	var hooks []string
	for _, u := range []string{target.srv.URL, "http://localhost:" + port, "http://[::1]:" + port} {
		id, _ := e.webhook(admin, projPath, u, `"build.created"`)
		hooks = append(hooks, id)
	}
	e.upload(admin, part{"file", "a.zip", "a"})
	refused.RunOnce(context.Background())
	if n := len(target.events()); n != 0 {
		t.Fatalf("%d requests reached loopback", n)
	}
	for _, id := range hooks {
		ds, _, _ := e.store.Deliveries(id, store.Page{})
		if len(ds) != 1 || len(ds[0].Attempts) != 1 || !strings.Contains(ds[0].Attempts[0].Error, "refused") {
			t.Errorf("webhook %s: %+v", id, ds)
		}
	}
	// An allowed receiver redirecting to another address: not followed.
	redirector := httptest.NewServer(http.RedirectHandler(target.srv.URL+"/else", http.StatusTemporaryRedirect))
	defer redirector.Close()
	id, _ := e.webhook(admin, projPath, redirector.URL, `"build.created"`)
	e.upload(admin, part{"file", "b.zip", "b"})
	e.deliverer(5 * time.Second).RunOnce(context.Background())
	ds, _, _ := e.store.Deliveries(id, store.Page{})
	if n := len(target.events()); n != 0 || len(ds) != 1 || ds[0].Attempts[0].Status != http.StatusTemporaryRedirect || ds[0].State != store.DeliveryPending {
		t.Fatalf("redirect: %d requests at its target, %+v", n, ds)
	}
}

// A receiver that hangs and one that answers 10 MB: the first attempt
// times out, the second is read up to a bound and counts as delivered,
// and a third webhook's deliveries flow meanwhile.
func TestWebhookSlowAndHugeReceivers(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer func() { close(release); hang.Close() }()
	var served int64
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for range 10 {
			n, err := w.Write(chunk)
			served += int64(n)
			if err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	fast := newReceiver(t, e.clock)
	hangID, _ := e.webhook(admin, projPath, hang.URL, `"build.created"`)
	hugeID, _ := e.webhook(admin, projPath, huge.URL, `"build.created"`)
	_, fast.secret = e.webhook(admin, projPath, fast.srv.URL, `"build.created"`)
	e.upload(admin, part{"file", "a.zip", "a"})
	start := time.Now()
	e.deliverer(500 * time.Millisecond).RunOnce(context.Background())
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a round took %v", took)
	}
	if len(fast.events()) != 1 {
		t.Fatal("the fast receiver got nothing")
	}
	hd, _, _ := e.store.Deliveries(hangID, store.Page{})
	if hd[0].State != store.DeliveryPending || hd[0].Attempts[0].Error != "timed out" {
		t.Errorf("hanging receiver: %+v", hd[0].Attempts)
	}
	bd, _, _ := e.store.Deliveries(hugeID, store.Page{})
	if bd[0].State != store.DeliveryDelivered {
		t.Errorf("huge answer: %+v", bd[0])
	}
}
