package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Tester groups through the API and the console: made, changed, imported
// from CSV (all or nothing, bad lines named), bounded, deleted; developers
// manage them, viewers may not.
func TestTesterGroups(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "dev", "dev-password", "developer")
	e.member(admin, "vic", "vic-password", "viewer")
	dev, vic := e.login("dev", "dev-password"), e.login("vic", "vic-password")
	base := "/api/v1/workspace/acme/tester-group"

	var g struct {
		Slug, Name string
		Members    []string
	}
	e.mustReq(http.StatusCreated, "POST", base, dev, `{"slug":"qa","name":"QA","members":["Ana@Example.com","bo@example.com","ana@example.com"]}`, &g)
	if g.Slug != "qa" || strings.Join(g.Members, " ") != "ana@example.com bo@example.com" {
		t.Fatalf("created: %+v", g)
	}
	e.mustReq(http.StatusForbidden, "POST", base, vic, `{"slug":"x"}`, nil)
	e.mustReq(http.StatusForbidden, "GET", base, vic, "", nil)
	e.mustReq(http.StatusConflict, "POST", base, dev, `{"slug":"qa"}`, nil)
	for _, bad := range []string{`{"slug":"bad slug"}`, `{"slug":"b","members":["not-an-address"]}`, `{"slug":"c","members":["a@b.co\r\nBcc: x@y.z"]}`} {
		e.mustReq(http.StatusBadRequest, "POST", base, dev, bad, nil)
	}
	e.mustReq(http.StatusOK, "PATCH", base+"/qa", dev, `{"name":"Quality","add":["cy@example.com"],"remove":["bo@example.com"]}`, &g)
	if g.Name != "Quality" || strings.Join(g.Members, " ") != "ana@example.com cy@example.com" {
		t.Fatalf("changed: %+v", g)
	}

	// CSV: a header, blank lines, other columns; a bad line refuses all.
	csvReq := func(body string) (int, string) {
		code, b := e.send("POST", base+"/qa/members.csv", dev, "text/csv", []byte(body))
		return code, string(b)
	}
	if code, body := csvReq("email,name\ndi@example.com,Di\n\n\"ed@example.com\",Ed\n"); code != http.StatusOK || !strings.Contains(body, "ed@example.com") {
		t.Fatalf("a CSV import: %d %s", code, body)
	}
	code, body := csvReq("email\nfay@example.com\nnot an address\ngus@example.com\nalso bad\n")
	if code != http.StatusBadRequest || !strings.Contains(body, "line 3") || !strings.Contains(body, "line 5") {
		t.Fatalf("a bad CSV: %d %s", code, body)
	}
	e.mustReq(http.StatusOK, "GET", base+"/qa", dev, "", &g)
	if strings.Contains(strings.Join(g.Members, " "), "fay@") || len(g.Members) != 4 {
		t.Fatalf("a refused import kept something: %v", g.Members)
	}

	// The console: the list, a group's page, adding by pasting, removing.
	cookie := e.signIn("dev", "dev-password")
	if code, page, _ := e.getPage("/w/acme/testers", cookie); code != http.StatusOK || !strings.Contains(page, "Quality") {
		t.Fatalf("testers page: %d", code)
	}
	resp := e.postForm("/w/acme/testers/qa/add", cookie, url.Values{"csrf": {e.csrf(cookie.Value)}, "addresses": {"hal@example.com\nivy@example.com"}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("adding in the console: %d", resp.StatusCode)
	}
	resp = e.postForm("/w/acme/testers/qa/remove", cookie, url.Values{"csrf": {e.csrf(cookie.Value)}, "address": {"ana@example.com"}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("removing in the console: %d", resp.StatusCode)
	}
	e.mustReq(http.StatusOK, "GET", base+"/qa", dev, "", &g)
	if strings.Join(g.Members, " ") != "cy@example.com di@example.com ed@example.com hal@example.com ivy@example.com" {
		t.Fatalf("after the console: %v", g.Members)
	}

	// The audit log says who was added and removed.
	changed := 0
	for _, en := range e.auditSince(admin, "") {
		if strings.HasPrefix(en.Action, "tester_group.") && en.Actor.Name == "dev" {
			changed++
		}
	}
	if changed != 5 { // created, changed, imported, added, removed
		t.Errorf("%d tester_group entries by dev, want 5", changed)
	}
	e.mustReq(http.StatusNoContent, "DELETE", base+"/qa", dev, "", nil)
	e.mustReq(http.StatusNotFound, "GET", base+"/qa", dev, "", nil)
}

// The tester pages as a developer sees them, at phone and desktop sizes.
func TestTestersInBrowser(t *testing.T) {
	needBrowser(t)
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "dev", "dev-password", "developer")
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"beta","name":"Beta testers","members":["zoe@example.com"]}`, nil)
	shots := shotsDir(t)
	ctx := browser(t, "")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/signin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "dev"), chromedp.SendKeys(chromedp.ID("password"), "dev-password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("a.who")),
		chromedp.Navigate(e.ts.URL+"/w/acme/testers"), chromedp.WaitVisible(chromedp.ID("slug")),
		chromedp.SendKeys(chromedp.ID("slug"), "qa"), chromedp.SendKeys(chromedp.ID("name"), "QA team"), chromedp.Submit(chromedp.ID("slug")),
		chromedp.WaitVisible(chromedp.ID("addresses")),
		chromedp.SendKeys(chromedp.ID("addresses"), "ana@example.com\nbo@example.com\ncy.long-address-for-phones@subsidiary.example.com"),
		chromedp.Submit(chromedp.ID("addresses")), chromedp.WaitVisible(chromedp.CSS("table.testers")), shootSizes(shots, "tester-group"),
		chromedp.Navigate(e.ts.URL+"/w/acme/testers"), chromedp.WaitVisible(chromedp.CSS("ul.links")), shootSizes(shots, "tester-groups")); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("ul.links")))
	if err != nil || !strings.Contains(rows, "QA team") || !strings.Contains(rows, "3 testers") {
		t.Errorf("groups: %q %v", rows, err)
	}
}
