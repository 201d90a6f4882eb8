package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"hangar/hangartest"
	"hangar/webhook"
)

// receiver is a webhook receiver (hangartest.Receiver) whose deliveries
// are read as webhook payloads.
type receiver struct{ *hangartest.Receiver }

type received struct {
	event, delivery string
	payload         webhook.Payload
	raw             []byte
}

func newReceiver(t *testing.T, now func() time.Time) receiver {
	return receiver{hangartest.NewReceiver(t, now)}
}

func (rc receiver) events() []received {
	var out []received
	for _, r := range rc.Events() {
		var p webhook.Payload
		json.Unmarshal(r.Body, &p)
		out = append(out, received{event: r.Event, delivery: r.Delivery, payload: p, raw: r.Body})
	}
	return out
}

// Every event type reaches a real receiver, signed, with its payload, in
// the order the changes happened; the workspace-wide webhook gets the same
// events; one that wants only some gets only those.
func TestWebhookEvents(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	rc := newReceiver(t, e.clock)
	_, rc.Secret = e.webhook(admin, projPath, rc.URL+"/hook", `"*"`)
	wide := newReceiver(t, e.clock)
	_, wide.Secret = e.webhook(admin, "/api/v1/workspace/acme", wide.URL, `"build.processed","link.limit_reached"`)
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
	if logs := e.logs.String(); strings.Contains(logs, rc.Secret) || strings.Contains(logs, wide.Secret) || !strings.Contains(logs, "webhook created") {
		t.Errorf("the log shows a secret, or nothing: %s", logs)
	}
}
