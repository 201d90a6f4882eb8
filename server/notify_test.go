package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"hangar/config"
	"hangar/hangartest"
	"hangar/server"
	"hangar/store"
)

// mailsTo counts the mails that arrived for each address since the first
// n (mailpit lists newest first), once the server has settled.
func mailsTo(t *testing.T, e *env, mp *hangartest.Mailpit, n int) (map[string][]hangartest.MailSummary, int) {
	t.Helper()
	if err := server.Settle(e.srv); err != nil {
		t.Fatal(err)
	}
	all := mp.Messages()
	got := map[string][]hangartest.MailSummary{}
	for _, m := range all[:len(all)-n] {
		for _, to := range m.To {
			got[to.Address] = append(got[to.Address], m)
		}
	}
	return got, len(all)
}

func wantMailed(t *testing.T, step string, got map[string][]hangartest.MailSummary, want ...string) {
	t.Helper()
	var addrs []string
	for a, ms := range got {
		for range ms {
			addrs = append(addrs, a)
		}
	}
	slices.Sort(addrs)
	slices.Sort(want)
	if strings.Join(addrs, " ") != strings.Join(want, " ") {
		t.Errorf("%s: mailed %v, want %v", step, addrs, want)
	}
}

// An upload with Applivery's notify fields, through the organization API
// as curl or a CI step sends it, mails exactly the right people: the
// testers of the pages set to "ask" (once each, though in two groups), of
// those set to "always", none of those set to "never", and the
// workspace's members for notifyCollaborators; an upload that asks
// nothing mails only "always" pages; a build processed again mails
// nobody twice; one click on List-Unsubscribe ends a tester's mail from
// that page.
func TestNotifications(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	api := "/api/v1/workspace/acme/tester-group"
	e.mustReq(http.StatusCreated, "POST", api, admin, `{"slug":"qa2","members":["ana@example.com","cy@example.com"]}`, nil)
	e.mustReq(http.StatusCreated, "POST", api, admin, `{"slug":"nightly","members":["dan@example.com"]}`, nil)
	e.mustReq(http.StatusOK, "PATCH", projPath+"/distribution/beta", admin, `{"groups":["qa","qa2"]}`, nil) // ana in both
	e.distribution(admin, `{"slug":"nightly","security":"public","groups":["nightly"],"notify":"always"}`)
	e.distribution(admin, `{"slug":"quiet","security":"testers","groups":["qa"],"notify":"never"}`)
	e.newUser(admin, `{"username":"vera","password":"vera-password","email":"vera@example.com"}`)
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"vera","role":"viewer"}`, nil)
	e.newUser(admin, `{"username":"olaf","password":"olaf-password","email":"olaf@example.com"}`) // no member of acme
	_, seen := mailsTo(t, e, mp, 0)
	if seen != 0 {
		t.Fatalf("%d mails before any upload", seen)
	}

	b := e.orgUpload(admin, part{"versionName", "", "4.0"}, part{"changelog", "", "Login fixed.\nNew icon."},
		part{"notifyEmployees", "", "true"}, part{"notifyCollaborators", "", "true"}, part{"notifyMessage", "", "Please test login"},
		part{"build", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.ID)
	got, seen := mailsTo(t, e, mp, seen)
	wantMailed(t, "asked", got, "ana@example.com", "bo@example.com", "cy@example.com", "dan@example.com", "vera@example.com")
	msg := mp.Message(got["bo@example.com"][0].ID)
	msg.Text = strings.ReplaceAll(msg.Text, "\r\n", "\n")
	for _, want := range []string{"Demo App is ready for you on Beta", "Version 4.0 (241)", "Login fixed.\nNew icon.", "Please test login", e.ts.URL + "/d/acme/beta"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("a tester's mail lacks %q:\n%s", want, msg.Text)
		}
	}
	if !strings.Contains(msg.Subject, "Demo App 4.0 (241) is ready to install") {
		t.Errorf("subject %q", msg.Subject)
	}
	unsub := msg.Headers["List-Unsubscribe"]
	if len(unsub) != 1 || !strings.HasPrefix(unsub[0], "<"+e.ts.URL+"/t/unsubscribe/") || strings.Join(msg.Headers["List-Unsubscribe-Post"], "") != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe headers: %v %v", unsub, msg.Headers["List-Unsubscribe-Post"])
	}
	if strings.Contains(unsub[0], "bo") || strings.Contains(unsub[0], "example.com") {
		t.Errorf("the unsubscribe link names the address: %s", unsub[0])
	}
	member := mp.Message(got["vera@example.com"][0].ID)
	if !strings.Contains(member.Text, e.ts.URL+"/w/acme/p/app/b/"+b.ID) {
		t.Errorf("the member's mail does not link the build:\n%s", member.Text)
	}

	// Bo unsubscribes from Beta with one click, as a mail provider posts it.
	oneClick := strings.Trim(unsub[0], "<>")
	resp, err := http.PostForm(oneClick, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, body, _ := e.getPage(strings.TrimPrefix(oneClick, e.ts.URL), nil); code != 200 || !strings.Contains(body, `id="resubscribe"`) {
		t.Errorf("the unsubscribe page after one click: %d %s", code, body)
	}
	if code, _, _ := e.getPage("/t/unsubscribe/"+strings.Replace(strings.TrimPrefix(oneClick, e.ts.URL+"/t/unsubscribe/"), "a", "b", 1), nil); code != http.StatusNotFound {
		t.Errorf("an altered unsubscribe link: %d", code)
	}

	// An upload that asks nothing: only the "always" page mails.
	b2 := e.upload(admin, part{"version", "", "4.1"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b2.BuildID)
	got, seen = mailsTo(t, e, mp, seen)
	wantMailed(t, "not asked", got, "dan@example.com")

	// The workspace API's notify=true: Beta's testers but bo, who left it.
	b3 := e.upload(admin, part{"version", "", "4.2"}, part{"notify", "", "true"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b3.BuildID)
	got, seen = mailsTo(t, e, mp, seen)
	wantMailed(t, "notify=true", got, "ana@example.com", "cy@example.com", "dan@example.com")

	// Processed again, the same build is no news.
	reprocess := func(id string) {
		t.Helper()
		if _, err := e.store.UpdateBuild(id, func(b *store.Build) error { b.Status = store.BuildInProgress; return nil }); err != nil {
			t.Fatal(err)
		}
		e.depot.Enqueue(id)
		e.waitProcessed(id)
	}
	reprocess(b3.BuildID)
	got, seen = mailsTo(t, e, mp, seen)
	wantMailed(t, "processed again", got)

	// An older build processed after a newer one heads nothing: a page
	// made since does not mail about it.
	e.distribution(admin, `{"slug":"late","groups":["nightly"],"notify":"always"}`)
	reprocess(b2.BuildID)
	got, _ = mailsTo(t, e, mp, seen)
	wantMailed(t, "an older build", got)
}

// A workspace's hourly cap holds notification mails back, and the console
// says how many.
func TestNotificationCap(t *testing.T) {
	e, mp, admin := newTestersEnv(t, func(c *config.Config) { c.Testers.NotifyPerHour = 2 })
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"many","members":["a@example.com","b@example.com","c@example.com","d@example.com","e@example.com"]}`, nil)
	e.distribution(admin, `{"slug":"all","groups":["many"],"notify":"always"}`)
	b := e.upload(admin, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	got, _ := mailsTo(t, e, mp, 0)
	if len(got) != 2 {
		t.Fatalf("%d mailed, want the cap's 2", len(got))
	}
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	code, page, _ := e.getPage("/w/acme", e.signIn("root", "root-password"))
	if code != 200 || !strings.Contains(page, `id="held-back">3 notification mails were not sent this hour`) {
		t.Errorf("the workspace page does not report the 3 held back: %d %s", code, page)
	}
}
