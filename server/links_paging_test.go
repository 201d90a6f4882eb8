package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"hangar/store"
)

// A build's links page by cursor (the Link header) with ?limit=, each
// link once, in the order of the unpaged list; without ?limit= the list
// stops at 1,000 and points to the rest.
func TestBuildLinksPaging(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "a.zip", "a"}, part{"file", "b.txt", "b"})
	for i := range 7 {
		e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[i%2].FileID+"/public-link", admin, `{}`, nil)
	}
	list := func(path string) ([]string, string) {
		t.Helper()
		resp, body := do(t, "GET", e.ts.URL+path, http.Header{"Authorization": {"Bearer " + admin}})
		wantCode(t, resp, body, 200)
		var ls []struct{ PublicLinkID string }
		if err := json.Unmarshal(body, &ls); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range ls {
			ids = append(ids, l.PublicLinkID)
		}
		next := ""
		if m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(resp.Header.Get("Link")); m != nil {
			next = m[1]
		}
		return ids, next
	}
	base := projPath + "/build/" + b.BuildID + "/public-links"
	all, next := list(base)
	if len(all) != 7 || next != "" {
		t.Fatalf("unpaged: %d links, next %q", len(all), next)
	}
	var paged []string
	for path := base + "?limit=3"; path != ""; {
		var ids []string
		ids, path = list(path)
		if len(ids) > 3 {
			t.Fatalf("a page of %d", len(ids))
		}
		paged = append(paged, ids...)
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %v, unpaged %v", paged, all)
	}
	for i := range all {
		if paged[i] != all[i] {
			t.Fatalf("paged %v, unpaged %v", paged, all)
		}
	}
	for _, bad := range []string{"?cursor=nofile/x", "?page=2&limit=3"} {
		code, body := e.req("GET", base+bad, admin, "")
		if code != 400 {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}

	// 1,000 more on one file: the unpaged list stops at 1,000.
	for range 1000 {
		if _, err := e.store.CreateLink(store.PublicLink{FileID: b.Files[0].FileID, IsPermanent: true}); err != nil {
			t.Fatal(err)
		}
	}
	first, next := list(base)
	rest, last := list(next)
	if len(first) != 1000 || next == "" || len(rest) != 7 || last != "" {
		t.Fatalf("unpaged over 1,000: %d then %d (next %q, last %q)", len(first), len(rest), next, last)
	}
}
