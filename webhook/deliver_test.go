package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hangar/hangartest"
	"hangar/store"
	"hangar/webhook"
)

// env is a store with a workspace and a project, on a clock the test
// moves, and a log to read. Events come from the store's own changes, as
// every front makes them.
type env struct {
	t    *testing.T
	st   *store.Store
	proj store.Project
	logs *hangartest.SyncBuffer
	*hangartest.Clock
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, Clock: hangartest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), logs: &hangartest.SyncBuffer{}}
	st, err := store.Open(filepath.Join(t.TempDir(), "hangar.db"), store.Options{Now: e.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws, err := st.CreateWorkspace(store.Workspace{Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if e.proj, err = st.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "app"}); err != nil {
		t.Fatal(err)
	}
	e.st = st
	return e
}

// hook is a webhook of the project that wants events of types.
func (e *env) hook(url string, types ...string) store.Webhook {
	e.t.Helper()
	w, err := e.st.CreateWebhook(store.Webhook{WorkspaceID: e.proj.WorkspaceID, ProjectID: e.proj.ID, URL: url, Events: types, Format: store.FormatJSON})
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// upload is a build whose upload ended: its build.created event.
func (e *env) upload() store.Build {
	e.t.Helper()
	b, err := e.st.CreateBuild(store.Build{ProjectID: e.proj.ID})
	if err == nil {
		b, err = e.st.UpdateBuild(b.ID, func(b *store.Build) error { b.Status = store.BuildInProgress; return nil })
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// deliverer is the delivery worker on the test's clock, allowed to reach
// the test's receivers on loopback.
func (e *env) deliverer(timeout time.Duration) *webhook.Deliverer {
	return webhook.New(webhook.Options{Store: e.st, BaseURL: "https://hangar.example", Now: e.Now, Timeout: timeout,
		Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
}

func (e *env) deliveries(hook string) []store.Delivery {
	e.t.Helper()
	ds, _, err := e.st.Deliveries(hook, store.Page{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

func buildOf(t *testing.T, r hangartest.Received) string {
	var p webhook.Payload
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Build == nil {
		t.Fatalf("payload %s: %v", r.Body, err)
	}
	return p.Build.ID
}

// A receiver that is down: retries follow the backoff on the webhook's
// clock, later events wait for the first (order holds), every attempt is
// in the delivery log with a status and a fixed error, never the
// receiver's words, and a delivery sent again by hand keeps its ID.
func TestRetriesInOrder(t *testing.T) {
	e := newEnv(t)
	rc := hangartest.NewReceiver(t, e.Now)
	rc.Answer = func(n int) int {
		if n < 2 {
			return 503
		}
		return 200
	}
	w := e.hook(rc.URL, store.EventBuildCreated)
	rc.Secret = w.Secret
	first, second := e.upload(), e.upload()
	d := e.deliverer(5 * time.Second)
	ctx := context.Background()
	d.RunOnce(ctx) // fails (503); the second waits behind it
	d.RunOnce(ctx) // not due yet: nothing
	if n := len(rc.Events()); n != 1 {
		t.Fatalf("%d requests, want 1 (the retry is not due)", n)
	}
	e.Advance(7 * time.Second) // under the first wait (10 s −20 %)
	d.RunOnce(ctx)
	if n := len(rc.Events()); n != 1 {
		t.Fatalf("retried before the backoff: %d requests", n)
	}
	e.Advance(6 * time.Second) // 13 s: past 10 s +20 %
	d.RunOnce(ctx)             // fails again; next in 20 s ±20 %
	e.Advance(25 * time.Second)
	d.RunOnce(ctx) // delivered, then the second follows at once
	got := rc.Events()
	if len(got) != 4 || got[0].Delivery != got[1].Delivery || got[1].Delivery != got[2].Delivery ||
		buildOf(t, got[2]) != first.ID || buildOf(t, got[3]) != second.ID {
		t.Fatalf("requests: %+v", got)
	}
	log := e.deliveries(w.ID) // newest first
	if len(log) != 2 || log[1].State != store.DeliveryDelivered || log[1].Tries != 3 || log[1].Attempts[0].Status != 503 ||
		log[1].Attempts[2].Status != 200 || log[1].Attempts[0].Error != "the receiver answered 503" {
		t.Fatalf("delivery log: %+v", log)
	}
	logs := e.logs.String()
	if strings.Contains(logs, w.Secret) || strings.Contains(logs, "internal-service-answer") || !strings.Contains(logs, "webhook delivery failed") {
		t.Errorf("the worker's log shows the secret or the receiver's answer, or no failure: %s", logs)
	}
	// Sent again by hand: the same delivery ID, after anything pending.
	if _, err := e.st.Redeliver(w.ID, log[1].ID); err != nil {
		t.Fatal(err)
	}
	d.RunOnce(ctx)
	if got = rc.Events(); len(got) != 5 || got[4].Delivery != log[1].ID {
		t.Fatalf("redelivery: %+v", got)
	}
	if w, _ = e.st.Webhook(w.ID); w.Pending != 0 || !w.FailingSince.IsZero() {
		t.Errorf("webhook after recovery: %+v", w)
	}
}

// A receiver that never recovers: the delivery is given up after 24 hours
// and the webhook disabled after three days of failures, with the reason;
// turned on again, it starts from a clean slate.
func TestGivesUpAndDisables(t *testing.T) {
	e := newEnv(t)
	rc := hangartest.NewReceiver(t, e.Now)
	rc.Answer = func(int) int { return 500 }
	w := e.hook(rc.URL, store.EventBuildCreated)
	rc.Secret = w.Secret
	d := e.deliverer(5 * time.Second)
	for range 4 {
		e.upload()
		for range 30 {
			d.RunOnce(context.Background())
			e.Advance(time.Hour)
		}
	}
	w, _ = e.st.Webhook(w.ID)
	if w.Active || !strings.Contains(w.DisabledReason, "every delivery failed since") {
		t.Fatalf("webhook: %+v", w)
	}
	if ds := e.deliveries(w.ID); ds[len(ds)-1].State != store.DeliveryFailed {
		t.Errorf("oldest delivery: %s after %d tries", ds[len(ds)-1].State, ds[len(ds)-1].Tries)
	}
	w, err := e.st.UpdateWebhook(w.ID, func(w *store.Webhook) error { w.Active = true; return nil })
	if err != nil || !w.Active || w.DisabledReason != "" || !w.FailingSince.IsZero() {
		t.Errorf("re-enabled: %+v %v", w, err)
	}
}

// Addresses webhooks may not reach are refused where the connection is
// made (by address and by a name that resolves to one); a redirect is
// not followed. (Every refused range: TestAllowed and
// TestRefusedAddressesRouted.)
func TestRefusedWhereConnected(t *testing.T) {
	e := newEnv(t)
	target := hangartest.NewReceiver(t, e.Now)
	port := target.URL[strings.LastIndexByte(target.URL, ':')+1:]
	var hooks []string
	for _, u := range []string{target.URL, "http://localhost:" + port, "http://[::1]:" + port} {
		hooks = append(hooks, e.hook(u, store.EventBuildCreated).ID)
	}
	e.upload()
	webhook.New(webhook.Options{Store: e.st, Now: e.Now, Logger: slog.New(slog.NewTextHandler(e.logs, nil))}).RunOnce(context.Background())
	if n := len(target.Events()); n != 0 {
		t.Fatalf("%d requests reached loopback", n)
	}
	for _, id := range hooks {
		if ds := e.deliveries(id); len(ds) != 1 || len(ds[0].Attempts) != 1 || !strings.HasPrefix(ds[0].Attempts[0].Error, "address refused for webhooks: ") {
			t.Errorf("webhook %s: %+v", id, ds)
		}
	}
	// An allowed receiver redirecting to another address: not followed.
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/else", http.StatusTemporaryRedirect))
	defer redirector.Close()
	id := e.hook(redirector.URL, store.EventBuildCreated).ID
	e.upload()
	e.deliverer(5 * time.Second).RunOnce(context.Background())
	ds := e.deliveries(id)
	if n := len(target.Events()); n != 0 || len(ds) != 1 || ds[0].Attempts[0].Status != http.StatusTemporaryRedirect || ds[0].State != store.DeliveryPending {
		t.Fatalf("redirect: %d requests at its target, %+v", n, ds)
	}
}

// A receiver that hangs and one that answers 10 MB: the first attempt
// times out, the second is read up to a bound and counts as delivered,
// and a third webhook's deliveries flow meanwhile.
func TestSlowAndHugeReceivers(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer func() { close(release); hang.Close() }()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for range 10 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	fast := hangartest.NewReceiver(t, e.Now)
	hangID := e.hook(hang.URL, store.EventBuildCreated).ID
	hugeID := e.hook(huge.URL, store.EventBuildCreated).ID
	fast.Secret = e.hook(fast.URL, store.EventBuildCreated).Secret
	e.upload()
	start := time.Now()
	e.deliverer(500 * time.Millisecond).RunOnce(context.Background())
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a round took %v", took)
	}
	if len(fast.Events()) != 1 {
		t.Fatal("the fast receiver got nothing")
	}
	if hd := e.deliveries(hangID); hd[0].State != store.DeliveryPending || hd[0].Attempts[0].Error != "timed out" {
		t.Errorf("hanging receiver: %+v", hd[0].Attempts)
	}
	if bd := e.deliveries(hugeID); bd[0].State != store.DeliveryDelivered {
		t.Errorf("huge answer: %+v", bd[0])
	}
}
