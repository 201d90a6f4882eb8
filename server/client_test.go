package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"hangar/hangartest"
)

// Requests as clients make them (a bearer token, a form, a browser's
// cookie), and the checks of their answers.

func do(t *testing.T, method, u string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var pairs []string
	for k, vs := range header {
		for _, v := range vs {
			pairs = append(pairs, k, v)
		}
	}
	return hangartest.Do(t, method, u, "", "", nil, pairs...)
}

func wantCode(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	hangartest.WantCode(t, resp, body, want)
}

func wantWorkspaceError(t *testing.T, body []byte, code string) {
	t.Helper()
	var e struct{ Error, Message string }
	if err := json.Unmarshal(body, &e); err != nil || e.Error != code || e.Message == "" {
		t.Fatalf("error body: got %s, want {\"error\":%q,\"message\":…}", body, code)
	}
}

// req sends a request with an optional bearer token and JSON body and
// returns the status and body.
func (e *env) req(method, path, token, body string, header ...string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch {
	case strings.HasPrefix(body, "--b\r\n"):
		ctype = "multipart/form-data; boundary=b"
	case body != "":
		ctype = "application/json"
	}
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp, b := hangartest.Do(e.t, method, e.ts.URL+path, token, ctype, rd, header...)
	return resp.StatusCode, b
}

// mustReq is req that fails the test unless the status is want, and decodes
// the JSON answer into out (if not nil).
func (e *env) mustReq(want int, method, path, token, body string, out any) {
	e.t.Helper()
	code, b := e.req(method, path, token, body)
	if code != want {
		e.t.Fatalf("%s %s: got %d, want %d; body %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// page requests a console page with token as the session cookie, from
// this origin, without following redirects.
func (e *env) page(method, path, token, form string) (int, []byte) {
	e.t.Helper()
	r, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(form))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		r.AddCookie(&http.Cookie{Name: "hangar_session", Value: token})
	}
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if strings.HasPrefix(form, "--b\r\n") {
			r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		}
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, b := sendNoRedirect(e.t, r)
	return resp.StatusCode, b
}

// csrf is the form token the console's pages give a session ("" for a
// session that has ended).
func (e *env) csrf(session string) string {
	e.t.Helper()
	// The account page: every session may open it (one that must first
	// fix its account may open nothing else).
	_, body := e.page("GET", "/account", session, "")
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return ""
}

type part struct{ field, filename, content string }

// multipartBody builds a form in memory (test data is small).
func multipartBody(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.field, p.filename)
		} else {
			w, err = mw.CreateFormField(p.field)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.content)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// send is req with an arbitrary body and content type.
func (e *env) send(method, path, token, ctype string, body []byte) (int, []byte) {
	e.t.Helper()
	return sendAs(e.t, e, method, path, token, ctype, body)
}

// sendAs is send failing t, not the env's own test: inside a fuzz function
// the env's F must not be failed.
func sendAs(t testing.TB, e *env, method, path, token, ctype string, body []byte) (int, []byte) {
	t.Helper()
	resp, b := hangartest.Do(t, method, e.ts.URL+path, token, ctype, bytes.NewReader(body))
	return resp.StatusCode, b
}

// get sends a GET with headers (and cookies) and does not follow redirects.
func get(t *testing.T, u string, header http.Header, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	r, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		r.Header[k] = vs
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return sendNoRedirect(t, r)
}

// postForm posts a form as the page's own browser would (same origin).
func postForm(t *testing.T, u string, form url.Values, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	r, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return sendNoRedirect(t, r)
}

// signIn posts the console's sign-in form and returns the session cookie.
func (e *env) signIn(username, password string) *http.Cookie {
	e.t.Helper()
	resp := e.postForm("/signin", nil, url.Values{"username": {username}, "password": {password}, "next": {"/"}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "hangar_session" {
			return c
		}
	}
	e.t.Fatal("sign in set no session cookie")
	return nil
}

func (e *env) postForm(path string, cookie *http.Cookie, form url.Values, site string) *http.Response {
	e.t.Helper()
	resp, _ := e.submit(path, cookie, "application/x-www-form-urlencoded", form.Encode(), site)
	return resp
}

// submit posts body to a page as a browser form would, without following
// redirects, and returns the answer and its body.
func (e *env) submit(path string, cookie *http.Cookie, ctype, body, site string) (*http.Response, string) {
	e.t.Helper()
	r, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	if site != "" {
		r.Header.Set("Sec-Fetch-Site", site)
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	resp, b := sendNoRedirect(e.t, r)
	return resp, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// sendNoRedirect sends r without following redirects and reads the
// answer's body.
func sendNoRedirect(t testing.TB, r *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := noRedirect.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// getPage fetches a page with the session cookie and returns its status,
// body and headers.
func (e *env) getPage(path string, cookie *http.Cookie) (int, string, http.Header) {
	e.t.Helper()
	r, _ := http.NewRequest("GET", e.ts.URL+path, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	resp, b := sendNoRedirect(e.t, r)
	return resp.StatusCode, string(b), resp.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// followShown follows a form's 303 to the page that shows what it made,
// and loads that page again as a reload would: the first body and the
// reload's (a one-time secret must be in the first only).
func (e *env) followShown(resp *http.Response, cookie *http.Cookie) (first, reload string) {
	e.t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("form answered %d, want 303 to the page that shows the result", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	code, first, _ := e.getPage(loc, cookie)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s after the form: %d", loc, code)
	}
	_, reload, _ = e.getPage(loc, cookie)
	return first, reload
}

// org sends a request and decodes the envelope, failing unless the status
// code is want.
func (e *env) org(want int, method, path, token, ctype string, body []byte) orgResp {
	e.t.Helper()
	code, b := e.send(method, path, token, ctype, body)
	var r orgResp
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatalf("%s %s: not an envelope: %s", method, path, b)
	}
	if code != want || r.Status != (code < 400) {
		e.t.Fatalf("%s %s: got %d, want %d: %s", method, path, code, want, b)
	}
	return r
}

func wantOrgError(t *testing.T, r orgResp, code int, message string) {
	t.Helper()
	if r.Status || r.Error == nil || r.Error.Code != code || message != "" && r.Error.Message != message {
		t.Fatalf("got %+v, want error %d %q", r.Error, code, message)
	}
}

// call sends one request with raw headers and returns the status and the
// decoded envelope.
func (e *env) call(method, path string, header map[string]string, body []byte) (int, orgResp, []byte) {
	e.t.Helper()
	r, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env orgResp
	json.Unmarshal(raw, &env)
	return resp.StatusCode, env, raw
}

// overHTTPS is the header of a request a TLS proxy forwarded, from a
// device with User-Agent ua.
func overHTTPS(ua string) http.Header {
	return http.Header{"User-Agent": {ua}, "X-Forwarded-Proto": {"https"}}
}
