package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/store"
)

// The answers of every front and the webhook payloads, recorded as golden
// files (testdata/golden/), so that a change of the types behind them
// (store's JSON fields, the answers' own types) must leave what clients
// read byte for byte the same, or say so by updating them:
//
//	go test ./server -run TestGolden -update
var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// golden normalises what differs from run to run (IDs, tokens, secrets,
// signatures, the test server's port) into stable placeholders, numbering
// IDs in the order they first appear, so that one ID keeps one name across
// all the files of a run.
type golden struct {
	t     *testing.T
	hosts map[string]string // base URLs of test servers → stable names
	ids   map[string]string
}

var (
	goldenToken  = regexp.MustCompile(`hgr_[a-z2-7]{8}_[A-Za-z0-9_-]{43}`)
	goldenSecret = regexp.MustCompile(`whsec_[A-Za-z0-9_-]{43}`)
	goldenSig    = regexp.MustCompile(`kid=[0-9a-f]+&sig=[A-Za-z0-9_-]{43}`)
	goldenPrefix = regexp.MustCompile(`"prefix":"[a-z2-7]{8}"`)
	goldenRun    = regexp.MustCompile(`[A-Za-z0-9_-]+`)
	goldenLong   = regexp.MustCompile(`"token":"[A-Za-z0-9_.-]{30,}"`)
	goldenExp    = regexp.MustCompile(`exp=\d+`)
	goldenMS     = regexp.MustCompile(`"latencyMs":\d+`)
	// Times keep their shape (whole seconds or milliseconds, UTC), not
	// their value.
	goldenTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
)

func (g *golden) normalise(b []byte) []byte {
	s := string(b)
	for base, name := range g.hosts {
		s = strings.ReplaceAll(s, base, name)
	}
	s = goldenExp.ReplaceAllString(s, "exp=EXP")
	s = goldenMS.ReplaceAllString(s, `"latencyMs":0`)
	s = goldenTime.ReplaceAllStringFunc(s, func(t string) string {
		shape := "YYYY-MM-DDThh:mm:ss"
		if i := strings.IndexByte(t, '.'); i >= 0 {
			if strings.IndexAny(t[i:], "Z+-") == 4 {
				shape += ".mmm" // milliseconds, as Applivery writes them
			} else {
				shape += ".nnn" // Go's RFC 3339 with nanoseconds, trailing zeros dropped
			}
		}
		if strings.HasSuffix(t, "Z") {
			return shape + "Z"
		}
		return shape + "+hh:mm"
	})
	s = goldenToken.ReplaceAllString(s, "hgr_TOKEN")
	s = goldenSecret.ReplaceAllString(s, "whsec_SECRET")
	s = goldenSig.ReplaceAllString(s, "kid=KID&sig=SIG")
	s = goldenPrefix.ReplaceAllString(s, `"prefix":"PREFIX"`)
	s = goldenLong.ReplaceAllString(s, `"token":"DOWNLOAD_TOKEN"`)
	s = goldenRun.ReplaceAllStringFunc(s, func(run string) string {
		if len(run) != 22 { // Hangar's IDs: 16 random bytes, base64url
			return run
		}
		name, ok := g.ids[run]
		if !ok {
			name = fmt.Sprintf("ID-%03d", len(g.ids)+1)
			g.ids[run] = name
		}
		return name
	})
	var out bytes.Buffer
	if json.Indent(&out, []byte(s), "", "  ") != nil {
		return []byte(s + "\n")
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// check compares an answer with its golden file (or writes it, -update).
func (g *golden) check(name string, b []byte) {
	g.t.Helper()
	got := g.normalise(b)
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			g.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		g.t.Fatalf("%s: %v (go test ./server -run TestGolden -update writes it)", name, err)
	}
	if !bytes.Equal(got, want) {
		g.t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

func TestGolden(t *testing.T) {
	e := newEnv(t)
	g := &golden{t: t, hosts: map[string]string{e.ts.URL: "http://hangar.test"}, ids: map[string]string{}}
	admin := e.adminToken()
	get := func(name, path string) {
		t.Helper()
		code, b := e.req("GET", path, admin, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		g.check(name, b)
	}
	post := func(name string, want int, method, path, body string) []byte {
		t.Helper()
		code, b := e.req(method, path, admin, body)
		if code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		g.check(name, b)
		return b
	}
	rc := newReceiver(t, e.clock)
	g.hosts[rc.URL] = "http://receiver.test"
	var hook struct{ ID, Secret string }
	json.Unmarshal(post("webhook-create", 201, "POST", projPath+"/webhook", `{"url":"`+rc.URL+`","events":["*"]}`), &hook)
	rc.Secret = hook.Secret
	chat := newReceiver(t, e.clock)
	g.hosts[chat.URL] = "http://chat.test"
	var chatHook struct{ ID, Secret string }
	json.Unmarshal(post("webhook-create-slack", 201, "POST", projPath+"/webhook", `{"url":"`+chat.URL+`","events":["build.processed"],"format":"slack"}`), &chatHook)
	chat.Secret = chatHook.Secret
	post("distribution-create", 201, "POST", projPath+"/distribution", `{"slug":"beta","name":"Beta","showHistory":true}`)

	// The workspace API.
	b := e.upload(admin, part{"version", "", "2.4.1"}, part{"buildNumber", "", "241"}, part{"notes", "", "Faster sync"},
		part{"file", "App.ipa", demoIPA()}, part{"file", "App.dSYM.zip", "symbols"})
	e.waitProcessed(b.BuildID)
	get("workspace", "/api/v1/workspace/acme")
	post("project-retention", 200, "PATCH", projPath, `{"retention":{"keepBuilds":20,"maxAge":"720h"}}`)
	get("project", projPath)
	get("builds", projPath+"/build")
	get("build", projPath+"/build/"+b.BuildID)
	get("build-files", projPath+"/build/"+b.BuildID+"/file")
	get("build-file-details", projPath+"/build/"+b.BuildID+"/files")
	var link struct{ PublicLinkID, PublicURL string }
	json.Unmarshal(post("link-create", 201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", `{"downloadLimit":5}`), &link)
	do(t, "GET", link.PublicURL, http.Header{"User-Agent": {"golden/1"}})
	get("build-links", projPath+"/build/"+b.BuildID+"/public-links")
	get("link-access-log", projPath+"/build/files/"+b.Files[0].FileID+"/public-links/"+link.PublicLinkID+"/access-log")
	get("distributions", projPath+"/distribution")
	get("app-tokens-empty", projPath+"/app-token")
	post("app-token-create", 201, "POST", projPath+"/app-token", `{"name":"ci","scope":"publish"}`)
	get("members", "/api/v1/workspace/acme/member")

	// The organization and Integrations APIs: a build from CI, with what
	// CI says of itself and whom to tell.
	ci := e.orgUpload(admin, part{"versionName", "", "2.5.0"}, part{"notifyCollaborators", "", "true"}, part{"notifyMessage", "", "Try the new sync"},
		part{"deployer.name", "", "GitHub Actions"}, part{"deployer.info.branch", "", "main"}, part{"deployer.info.commit", "", "9f8e7d6"},
		part{"deployer.info.buildUrl", "", "https://ci.example/runs/318"})
	get("org-build-ci", appPath+"/builds/"+ci.ID)
	get("build-ci", projPath+"/build/"+ci.ID)
	get("org-apps", "/v1/organizations/acme/apps")
	get("org-builds", appPath+"/builds")
	get("org-build", appPath+"/builds/"+b.BuildID)
	get("org-download-token", appPath+"/builds/"+b.BuildID+"/downloadToken?type=auto")

	// Errors, one of each shape.
	for name, path := range map[string]string{"error-workspace": projPath + "/build/nosuch", "error-org": appPath + "/builds/nosuch"} {
		_, body := e.req("GET", path, admin, "")
		g.check(name, body)
	}

	// Webhook payloads as receivers get them.
	e.deliverer(5 * time.Second).RunOnce(context.Background())
	for i, r := range rc.Events() {
		g.check(fmt.Sprintf("webhook-%02d-%s", i, r.Event), r.Body)
	}
	for i, r := range chat.Events() {
		g.check(fmt.Sprintf("webhook-slack-%02d-%s", i, r.Event), r.Body)
	}
	ds, _, _ := e.store.Deliveries(hook.ID, store.Page{})
	if len(ds) == 0 {
		t.Fatal("no deliveries")
	}
	get("webhook-deliveries", projPath+"/webhook/"+hook.ID+"/deliveries")
}
