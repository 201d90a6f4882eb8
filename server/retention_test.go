package server_test

import (
	"strings"
	"testing"
	"time"

	"hangar/config"
)

func TestRetention(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.KeepBuilds = 2 })
	admin := e.adminToken()
	// The fixture's build is the oldest and still pending (as during an
	// upload): retention leaves it. Four more with files.
	var ids []string
	for i := 0; i < 4; i++ {
		e.advance(time.Minute)
		b := e.upload(admin, part{"file", "app.ipa", strings.Repeat("x", 1000+i)})
		ids = append(ids, b.BuildID)
	}
	// Another project keeps everything by default, but overrides it with
	// a maximum age.
	e.mustReq(201, "POST", "/api/v1/workspace/acme/project", admin, `{"slug":"nightly"}`, nil)
	nightly := "/api/v1/workspace/acme/project/nightly"
	e.mustReq(400, "PATCH", nightly, admin, `{"retention":{"keepBuilds":-1}}`, nil)
	e.mustReq(400, "PATCH", nightly, admin, `{"retention":{"maxAge":"30d"}}`, nil)
	e.mustReq(200, "PATCH", nightly, admin, `{"retention":{"maxAge":"48h"}}`, nil)
	var old struct{ BuildID string }
	e.mustReq(201, "POST", nightly+"/build", admin, `{}`, &old)
	e.advance(72 * time.Hour)
	var fresh struct{ BuildID string }
	e.mustReq(201, "POST", nightly+"/build", admin, `{}`, &fresh)

	n, err := e.depot.ApplyRetention()
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // ids[0], ids[1] in app; the old nightly build
		t.Fatalf("deleted %d builds, want 3", n)
	}
	var left []struct{ BuildID string }
	e.mustReq(200, "GET", projPath+"/build", admin, "", &left)
	if len(left) != 3 || left[0].BuildID != ids[3] || left[1].BuildID != ids[2] || left[2].BuildID != e.build.ID {
		t.Fatalf("app keeps %+v, want the newest two and the pending one", left)
	}
	e.mustReq(200, "GET", nightly+"/build", admin, "", &left)
	if len(left) != 1 || left[0].BuildID != fresh.BuildID {
		t.Fatalf("nightly keeps %+v, want the fresh build", left)
	}
	if got := e.storageUsed(admin); got != 1002+1003 {
		t.Fatalf("storageUsed: got %d, want %d", got, 1002+1003)
	}
	if n := e.blobCount(); n != 2 {
		t.Fatalf("blobs: %d, want 2", n)
	}
	if c := strings.Count(e.logs.String(), "retention deleted a build"); c != 3 {
		t.Fatalf("%d deletions logged, want 3", c)
	}
	// Run again: nothing more to do.
	if n, _ := e.depot.ApplyRetention(); n != 0 {
		t.Fatalf("second run deleted %d", n)
	}
	// Back to the defaults (keep 2): the nightly project has 1.
	e.mustReq(200, "PATCH", nightly, admin, `{"retention":{"clear":true}}`, nil)
	var p struct{ Retention *struct{} }
	e.mustReq(200, "GET", nightly, admin, "", &p)
	if p.Retention != nil {
		t.Fatal("retention not cleared")
	}
}

func TestDeleteBuild(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", "content"}, part{"file", "b.zip", "zip"})
	var link struct{ PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)
	e.mustReq(204, "DELETE", projPath+"/build/"+b.BuildID, admin, "", nil)
	e.mustReq(404, "GET", projPath+"/build/"+b.BuildID, admin, "", nil)
	e.mustReq(404, "DELETE", projPath+"/build/"+b.BuildID, admin, "", nil)
	resp, body := do(t, "GET", link.PublicURL, nil)
	wantCode(t, resp, body, 404)
	if got, n := e.storageUsed(admin), e.blobCount(); got != 0 || n != 0 {
		t.Fatalf("after deleting the build: storageUsed %d, %d blobs", got, n)
	}
	// The static file routes beside it still work.
	b2 := e.upload(admin, part{"file", "c.ipa", "c"})
	e.mustReq(204, "DELETE", projPath+"/build/file/"+b2.Files[0].FileID, admin, "", nil)
}
