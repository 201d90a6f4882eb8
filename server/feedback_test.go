package server_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/server"
	"hangar/store"
)

func pngOf(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, h/2, color.RGBA{200, 30, 30, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A tester reports a problem from the page: text and a screenshot, which
// become the build's feedback (the screenshot a file of type feedback,
// served as an attachment), a feedback.received event, and mail to the
// member who asked for it. Bad reports store nothing.
func TestFeedback(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	const page = "/d/acme/beta"
	hook, _ := e.webhook(admin, "/api/v1/workspace/acme", "http://192.0.2.1/hook", `"feedback.received"`)
	e.newUser(admin, `{"username":"vera","password":"vera-password","email":"vera@example.com"}`)
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"vera","role":"developer"}`, nil)
	e.mustReq(http.StatusNoContent, "PUT", "/api/v1/workspace/acme/feedback-mail", e.login("vera", "vera-password"), `{"enabled":true}`, nil)
	ana := e.signInTester(mp, page, "ana@example.com")
	seen := len(mp.Messages())

	_, body, _ := e.getPage(page, ana)
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	build := regexp.MustCompile(`name="build" value="([^"]+)"`).FindStringSubmatch(body)
	if token == nil || build == nil {
		t.Fatalf("no feedback form on the tester's page: %s", body)
	}
	files := func() int {
		fs, err := e.store.Files(build[1])
		if err != nil {
			t.Fatal(err)
		}
		return len(fs)
	}
	before := files()
	send := func(cookie *http.Cookie, parts ...part) (int, string) {
		t.Helper()
		ctype, b := multipartBody(t, parts...)
		resp, out := e.submit(page+"/feedback", cookie, ctype, string(b), "same-origin")
		return resp.StatusCode, out
	}
	shot := pngOf(t, 390, 844)
	csrf, forBuild := part{"csrf", "", token[1]}, part{"build", "", build[1]}
	for _, c := range []struct {
		name   string
		cookie *http.Cookie
		parts  []part
		want   int
	}{
		{"signed out", nil, []part{csrf, forBuild, {"text", "", "x"}}, http.StatusForbidden},
		{"a wrong token", ana, []part{{"csrf", "", "x"}, forBuild, {"text", "", "x"}, {"screenshot", "a.png", shot}}, http.StatusForbidden},
		{"not an image", ana, []part{csrf, forBuild, {"text", "", "x"}, {"screenshot", "a.png", "\x89PNG\r\n\x1a\nnot really"}}, http.StatusBadRequest},
		{"too many screenshots", ana, []part{csrf, forBuild, {"screenshot", "1.png", shot}, {"screenshot", "2.png", shot}, {"screenshot", "3.png", shot}, {"screenshot", "4.png", shot}}, http.StatusBadRequest},
		{"too long", ana, []part{csrf, forBuild, {"text", "", strings.Repeat("x", 4001)}}, http.StatusBadRequest},
		{"another build", ana, []part{csrf, {"build", "", "nope"}, {"text", "", "x"}}, http.StatusBadRequest},
		{"nothing", ana, []part{csrf, forBuild, {"text", "", "  "}}, http.StatusBadRequest},
	} {
		if code, out := send(c.cookie, c.parts...); code != c.want {
			t.Errorf("%s: %d, want %d: %.200s", c.name, code, c.want, out)
		}
	}
	if n := files(); n != before {
		t.Fatalf("refused reports left %d files", n-before)
	}

	code, _ := send(ana, csrf, forBuild, part{"text", "", "Login crashes\nafter the second tap."}, part{"screenshot", "IMG_0001.PNG", shot})
	if code != http.StatusSeeOther {
		t.Fatalf("a report: %d", code)
	}
	if _, body, _ := e.getPage(page+"?feedback=sent", ana); !strings.Contains(body, `id="feedback-sent"`) {
		t.Error("the page does not thank the tester")
	}
	var reports []struct {
		Tester, Text string
		Screenshots  []struct{ FileID, Name, URL string }
	}
	e.mustReq(200, "GET", projPath+"/build/"+build[1]+"/feedback", admin, "", &reports)
	if len(reports) != 1 || reports[0].Tester != "ana@example.com" || reports[0].Text != "Login crashes\nafter the second tap." || len(reports[0].Screenshots) != 1 {
		t.Fatalf("reports: %+v", reports)
	}
	resp, img := get(t, reports[0].Screenshots[0].URL, nil)
	if resp.StatusCode != 200 || string(img) != shot || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("the screenshot: %d %v", resp.StatusCode, resp.Header)
	}
	fs, _ := e.store.Files(build[1])
	feedbackFiles := 0
	for _, f := range fs {
		if f.Type == store.FileFeedback {
			feedbackFiles++
		}
	}
	if feedbackFiles != 1 {
		t.Errorf("%d feedback files", feedbackFiles)
	}
	ds, _, err := e.store.Deliveries(hook, store.Page{Limit: 10})
	if err != nil || len(ds) != 1 || ds[0].Event.Type != store.EventFeedbackReceived || ds[0].Event.Feedback.Text == "" {
		t.Errorf("webhook deliveries: %+v %v", ds, err)
	}
	if err := server.Settle(e.srv); err != nil {
		t.Fatal(err)
	}
	msgs := mp.Messages()
	if len(msgs) != seen+1 || msgs[0].To[0].Address != "vera@example.com" {
		t.Fatalf("mails after the report: %+v", msgs[:len(msgs)-seen])
	}
	if text := mp.Message(msgs[0].ID).Text; !strings.Contains(text, "ana@example.com reported a problem") || !strings.Contains(text, "Login crashes") {
		t.Errorf("the feedback mail: %s", text)
	}

	// Five reports a person at once (the refused ones above cost nothing),
	// then one each two minutes.
	for i := 2; i <= 5; i++ {
		if code, out := send(ana, csrf, forBuild, part{"text", "", "again"}); code != http.StatusSeeOther {
			t.Fatalf("report %d: %d %.200s", i, code, out)
		}
	}
	ctype, b := multipartBody(t, csrf, forBuild, part{"text", "", "one too many"})
	resp, out := e.submit(page+"/feedback", ana, ctype, string(b), "same-origin")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a sixth report at once: %d %v %.200s", resp.StatusCode, resp.Header, out)
	}
	e.advance(2 * time.Minute)
	if code, out := send(ana, csrf, forBuild, part{"text", "", "later"}); code != http.StatusSeeOther {
		t.Fatalf("a report two minutes later: %d %.200s", code, out)
	}
	e.mustReq(200, "GET", projPath+"/build/"+build[1]+"/feedback", admin, "", &reports)
	if len(reports) != 6 {
		t.Fatalf("%d reports kept, want 6", len(reports))
	}
}

// A member's feedback form token is bound to the session the page was
// shown in: the same account's other session cannot post it.
func TestFeedbackTokenPerSession(t *testing.T) {
	e, _, admin := newTestersEnv(t)
	const page = "/d/acme/beta"
	e.member(admin, "vera", "vera-password", "developer")
	one, two := e.signIn("vera", "vera-password"), e.signIn("vera", "vera-password")
	_, body, _ := e.getPage(page, one)
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	build := regexp.MustCompile(`name="build" value="([^"]+)"`).FindStringSubmatch(body)
	if token == nil || build == nil {
		t.Fatalf("no feedback form for a member: %s", body)
	}
	send := func(cookie *http.Cookie) int {
		ctype, b := multipartBody(t, part{"csrf", "", token[1]}, part{"build", "", build[1]}, part{"text", "", "from vera"})
		resp, _ := e.submit(page+"/feedback", cookie, ctype, string(b), "same-origin")
		return resp.StatusCode
	}
	if code := send(two); code != http.StatusForbidden {
		t.Fatalf("the token of one session, posted by another: %d", code)
	}
	if code := send(one); code != http.StatusSeeOther {
		t.Fatalf("the token of the session it was shown in: %d", code)
	}
}
