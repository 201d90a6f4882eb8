package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"hangar/store"
)

// The public-link redirect (look up, count, append to the access log in one
// transaction, 302 to a fresh signed URL) beside a bare http.Redirect on the
// same machine, so the ratio can be read from one run:
//
//	go test -run '^$' -bench Redirect -cpu 2 ./server
//
// Both run in-process through ServeHTTP: the cost measured is the handler's,
// commits included (concurrent accesses share a commit: store/group.go).
func BenchmarkPublicLinkRedirect(b *testing.B) {
	e, path := redirectBench(b)
	b.SetParallelism(32) // 64 concurrent clients on 2 CPUs, as wrk -c64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			if w.Code != http.StatusFound {
				panic(fmt.Sprintf("status %d: %s", w.Code, w.Body))
			}
		}
	})
}

// BenchmarkPublicLinkRedirectAlone: one client, one redirect at a time:
// its latency, a commit (with its fsync) each, and no wait for company.
func BenchmarkPublicLinkRedirectAlone(b *testing.B) {
	e, path := redirectBench(b)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusFound {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// redirectBench makes a public link and returns its download path.
func redirectBench(b *testing.B) (*env, string) {
	e := newEnv(b)
	admin := e.adminToken()
	ctype, body := multipartBody(b, part{"file", "app.ipa", "payload"})
	code, out := e.send("POST", projPath+"/build", admin, ctype, body)
	if code != 201 {
		b.Fatalf("upload: %d %s", code, out)
	}
	var built buildResp
	if err := json.Unmarshal(out, &built); err != nil {
		b.Fatal(err)
	}
	var link struct{ PublicLinkID string }
	e.mustReq(201, "POST", projPath+"/build/files/"+built.Files[0].FileID+"/public-link", admin, `{}`, &link)
	return e, "/api/v1/public/file/" + link.PublicLinkID + "/app.ipa"
}

func BenchmarkBareRedirect(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:8080/dl/AAAAAAAAAAAAAAAAAAAAAA/app.ipa?exp=1800000000&kid=k&sig=s", http.StatusFound)
	})
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/public/file/x/app.ipa", nil))
			if w.Code != http.StatusFound {
				panic(w.Code)
			}
		}
	})
}

// BenchmarkConsoleProjectPage: a project page (25 builds, their files and
// icons) of a project with 100,000 builds, signed in, through the real
// handler. The bound: under 50 ms of server time.
func BenchmarkConsoleProjectPage(b *testing.B) {
	fillWithoutSync = true
	e := newEnv(b)
	fillWithoutSync = false
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	for i := range 100_000 {
		if _, err := e.store.CreateBuild(store.Build{ProjectID: e.build.ProjectID, Status: store.BuildProcessed, VersionName: fmt.Sprintf("1.%d", i), AppName: "App"}); err != nil {
			b.Fatal(err)
		}
	}
	for range 25 { // the newest page: builds with a package and an icon
		e.upload(admin, part{"file", "App.zip", "zip " + fmt.Sprint(time.Now().UnixNano())})
	}
	cookie := e.signIn("root", "root-password")
	req, _ := http.NewRequest("GET", "/w/acme/p/app", nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d", w.Code)
		}
	}
}
