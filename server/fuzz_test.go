package server_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"hangar/store"
)

// FuzzCreateLinkBody: any JSON body for the public-link endpoint is a 201 or
// a 400 (413 if huge), never a server error.
func FuzzCreateLinkBody(f *testing.F) {
	e := newEnv(f)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", "payload"})
	path := projPath + "/build/files/" + b.Files[0].FileID + "/public-link"
	for _, s := range []string{``, `{}`, `{"downloadLimit": 100, "expirationDate": "2099-03-15T00:00:00Z", "isPermanent": false}`,
		`{"downloadLimit": -1}`, `{"expirationDate": "2000-01-01"}`, `{"isPermanent": "yes"}`, `{"downloadLimit": 1e400}`,
		`[1,2]`, `{"downloadLimit": 1}{}`, `nul`, "{\"expirationDate\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out := sendAs(t, e, "POST", path, admin, "application/json", body)
		if code != 201 && code != 400 && code != 413 {
			t.Fatalf("body %q: got %d %s", body, code, out)
		}
	})
}

// FuzzDistributionBody: any body sent to create a distribution is a 201,
// a 400, a 409 (a slug taken by an earlier run) or a 413, never a server
// error.
func FuzzDistributionBody(f *testing.F) {
	e := newEnv(f)
	admin := e.adminToken()
	path := projPath + "/distribution"
	for _, s := range []string{``, `{}`, `{"slug":"beta"}`, `{"slug":"qa","filterType":"tag","filterValue":"qa","security":"password","password":"secret-1"}`,
		`{"slug":"m","security":"members","showHistory":true,"showDevInfo":1}`, `{"slug":"-x-"}`, `{"slug":"x","password":"\u0000\u0000\u0000\u0000\u0000\u0000"}`,
		`{"slug":"y","security":"password","password":"` + strings.Repeat("é", 100) + `"}`, `[{}]`, `{"slug":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out := sendAs(t, e, "POST", path, admin, "application/json", body)
		if code != 201 && code != 400 && code != 409 && code != 413 {
			t.Fatalf("body %q: got %d %s", body, code, out)
		}
	})
}

// FuzzPublicationBody: any body an Applivery client could send to create
// a publication is a 201, a 400, a 409 or a 413, never a server error.
func FuzzPublicationBody(f *testing.F) {
	e := newEnv(f)
	admin := e.adminToken()
	var tk struct{ Token string }
	e.mustReq(201, "POST", "/api/v1/workspace/acme/project/app/app-token", admin, `{"name":"ci","scope":"publish-openly"}`, &tk)
	for _, s := range []string{`{}`, `{"slug":"main","visibility":"unlisted","security":"public","password":"","filter":{"type":"gitBranch","value":"main"},"showDevInfo":true,"showHistory":true}`,
		`{"slug":"qa","security":"password","password":"secret-1","filter":{"type":"tag","value":"a,b"},"groups":[["g1"],["g2"]],"tags":["x"]}`,
		`{"slug":"b","filter":{"type":"builds","value":""}}`, `{"slug":"l","security":"logged","filter":null}`, `{"slug":"x","visibility":"gone"}`,
		`{"slug":` + strings.Repeat(`"a`, 3) + `}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out := sendAs(t, e, "POST", "/v1/integrations/distributions", tk.Token, "application/json", body)
		if code != 201 && code != 400 && code != 409 && code != 413 {
			t.Fatalf("body %q: got %d %s", body, code, out)
		}
	})
}

// FuzzWebhookBody: any body sent to create a webhook is a 201, a 400 or a
// 413, never a server error; a 201 names a URL and events Hangar accepts.
func FuzzWebhookBody(f *testing.F) {
	e := newEnv(f)
	admin := e.adminToken()
	for _, s := range []string{`{}`, `{"url":"https://chat.example/hook","events":["*"]}`, `{"url":"http://10.0.0.5:8080/x","events":["build.processed","link.created"],"format":"slack"}`,
		`{"url":"ftp://x","events":["*"]}`, `{"url":"https://u:p@x/","events":["*"]}`, `{"url":"https://x/","events":["nope"]}`, `{"url":"https://x/","events":[]}`,
		`{"url":"https://x/","events":["*"],"format":"xml"}`, `{"url":"` + strings.Repeat("a", 3000) + `","events":["*"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out := sendAs(t, e, "POST", projPath+"/webhook", admin, "application/json", body)
		if code != 201 && code != 400 && code != 413 {
			t.Fatalf("body %q: got %d %s", body, code, out)
		}
	})
}

// FuzzMultipartUpload: any multipart body sent to the build upload is a 201
// or a 4xx, never a server error, and a refused one leaves no build behind.
// The boundary is fixed (the reference form's); the fuzzer mutates the body,
// boundary lines included.
func FuzzMultipartUpload(f *testing.F) {
	e := newEnv(f)
	admin := e.adminToken()
	ctype, good := multipartBody(f, part{"version", "", "1.0"}, part{"file", "app.ipa", "payload"}, part{"file", "b.zip", "zip"})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.ReplaceAll(good, []byte("app.ipa"), []byte("../\x00\r\n.ipa")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		newest := func() string { // cheap: one index entry
			b, _, _ := e.store.Builds(e.build.ProjectID, store.Page{Limit: 1})
			return b[0].ID
		}
		before := newest()
		// In-process: the handler's own behaviour, no sockets.
		r := httptest.NewRequest("POST", projPath+"/build", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+admin)
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		if w.Code >= 500 || w.Code != 201 && w.Code < 400 {
			t.Fatalf("got %d %s", w.Code, w.Body)
		}
		if w.Code != 201 && newest() != before {
			t.Fatalf("a refused upload (%d) left a build", w.Code)
		}
	})
}
