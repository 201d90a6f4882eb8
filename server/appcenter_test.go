package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hangar/auth"
	"hangar/store"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// acCall sends an App Center API call as its clients do: the token in
// X-API-Token, a JSON body.
func (e *env) acCall(method, path, token, body string) (int, map[string]any, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, _ := http.NewRequest(method, e.ts.URL+"/"+strings.TrimPrefix(path, "/"), rd)
	r.Header.Set("X-API-Token", token)
	r.Header.Set("Content-Type", "application/json")
	resp, b := sendNoRedirect(e.t, r)
	if ct := resp.Header.Get("Content-Type"); len(b) > 0 && !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s %s: Content-Type %q (fastlane reads only JSON types)", method, path, ct)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m, b
}

// uploadDomain sends an upload domain call: the token in the query, a raw
// body.
func uploadDomain(t *testing.T, domain, call, asset string, q url.Values, body []byte) (int, map[string]any) {
	t.Helper()
	r, _ := http.NewRequest("POST", domain+"/upload/"+call+"/"+asset+"?"+q.Encode(), bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/octet-stream")
	resp, b := sendNoRedirect(t, r)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %d %s", call, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// acUpload is App Center's CLI's upload of content as name, blocks sent
// ten at a time in reverse order (one twice), then finished, patched and
// polled: the release ID.
func (e *env) acUpload(token, name string, content []byte, version, number string) float64 {
	t := e.t.(*testing.T)
	t.Helper()
	id := e.acSend(token, name, content, version, number)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, st, raw := e.acCall("GET", "/v0.1/apps/acme/app/uploads/releases/"+id, token, "")
		if st["upload_status"] == "readyToBePublished" {
			// fastlane: release_distinct_id.is_a?(Integer), so a JSON integer.
			if !bytes.Contains(raw, []byte(`"release_distinct_id":`+fmt.Sprint(st["release_distinct_id"]))) || strings.Contains(fmt.Sprint(st["release_distinct_id"]), ".") {
				t.Fatalf("release_distinct_id is not a JSON integer: %s", raw)
			}
			return st["release_distinct_id"].(float64)
		}
		if st["upload_status"] == "error" || time.Now().After(deadline) {
			t.Fatalf("upload status: %s", raw)
		}
	}
}

// acSend is acUpload up to the PATCH that starts making the build: the
// upload's ID.
func (e *env) acSend(token, name string, content []byte, version, number string) string {
	t := e.t.(*testing.T)
	t.Helper()
	code, up, raw := e.acCall("POST", "/v0.1/apps/acme/app/uploads/releases", token, fmt.Sprintf(`{"build_version":%q,"build_number":%q}`, version, number))
	if code != http.StatusCreated || up["package_asset_id"] == nil {
		t.Fatalf("create upload: %d %s", code, raw)
	}
	domain, asset, tok, id := up["upload_domain"].(string), up["package_asset_id"].(string), up["url_encoded_token"].(string), up["id"].(string)
	q := url.Values{"file_name": {name}, "file_size": {fmt.Sprint(len(content))}, "content_type": {"application/octet-stream"}, "token": {tok}}
	code, meta := uploadDomain(t, domain, "set_metadata", asset, q, nil)
	if code != 200 {
		t.Fatalf("set_metadata: %d %v", code, meta)
	}
	size := int(meta["chunk_size"].(float64))
	list := meta["chunk_list"].([]any)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i := len(list) - 1; i >= 0; i-- {
		n := int(list[i].(float64))
		for range 1 + btoi(n == 1) { // block 1 twice
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				end := min(n*size, len(content))
				code, ans := uploadDomain(t, domain, "upload_chunk", asset, url.Values{"block_number": {fmt.Sprint(n)}, "token": {tok}}, content[(n-1)*size:end])
				if code != 200 || ans["error"] != false {
					t.Errorf("block %d: %d %v", n, code, ans)
				}
			}()
		}
	}
	wg.Wait()
	code, fin := uploadDomain(t, domain, "finished", asset, url.Values{"token": {tok}}, nil)
	if code != 200 || fin["error"] != false || fin["state"] != "Done" {
		t.Fatalf("finished: %d %v", code, fin)
	}
	code, patched, raw := e.acCall("PATCH", "/v0.1/apps/acme/app/uploads/releases/"+id, token, `{"upload_status":"uploadFinished"}`)
	if code != 200 || patched["upload_status"] != "uploadFinished" {
		t.Fatalf("patch: %d %s", code, raw)
	}
	return id
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// App Center's release upload as its CLI and fastlane make it, against
// Hangar: an IPA in one block and a file of three, sent out of order,
// become builds with integer release IDs, whose notes and commit the
// release's PUT sets and whose download URL gives the bytes back.
func TestAppCenterReleaseUpload(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	rid := e.acUpload(admin, "Demo.ipa", []byte(demoIPA()), "2.0", "42")
	code, _, raw := e.acCall("PUT", fmt.Sprintf("/v0.1/apps/acme/app/releases/%d", int(rid)), admin,
		`{"release_notes":"Fixes the login.","build":{"branch":"main","commit_hash":"abc123","commit_message":"Fix login"},"unknown":1}`)
	if code != 200 {
		t.Fatalf("put release: %d %s", code, raw)
	}
	code, rel, raw := e.acCall("GET", fmt.Sprintf("/v0.1/apps/acme/app/releases/%d", int(rid)), admin, "")
	if code != 200 || rel["short_version"] != "2.0" || rel["version"] != "42" || rel["release_notes"] != "Fixes the login." ||
		rel["commit_hash"] != "abc123" || rel["bundle_identifier"] != "com.example.demo" || rel["id"] != rid {
		t.Fatalf("release: %d %s", code, raw)
	}
	resp, got := get(t, rel["download_url"].(string), nil)
	if resp.StatusCode != 200 || string(got) != demoIPA() {
		t.Fatalf("download_url: %d, %d bytes", resp.StatusCode, len(got))
	}

	big := randomBytes(9<<20 + 17) // three blocks of 4 MiB
	rid2 := e.acUpload(admin, "big.zip", big, "2.1", "43")
	_, rel, _ = e.acCall("GET", fmt.Sprintf("/v0.1/apps/acme/app/releases/%d", int(rid2)), admin, "")
	resp, got = get(t, rel["download_url"].(string), nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, big) {
		t.Fatalf("the three-block file: %d, %d bytes", resp.StatusCode, len(got))
	}
	code, _, raw = e.acCall("GET", "/v0.1/apps/acme/app/releases", admin, "")
	var list []map[string]any
	if json.Unmarshal(raw, &list); code != 200 || len(list) != 2 || list[0]["id"] != rid2 {
		t.Errorf("releases: %d %s", code, raw)
	}
	if code, app, _ := e.acCall("GET", "/v0.1/apps/acme/app", admin, ""); code != 200 || app["name"] != "app" {
		t.Errorf("app: %d %v", code, app)
	}
	// The staging area is empty once the builds are made.
	if entries, _ := os.ReadDir(filepath.Join(e.blobs.Dir(), "staging")); len(entries) != 0 {
		t.Errorf("%d staged uploads left", len(entries))
	}
}

// Bad input on App Center's routes: a clear error in its shape, nothing
// kept.
func TestAppCenterBadInput(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	_, up, _ := e.acCall("POST", "/v0.1/apps/acme/app/uploads/releases", admin, `{}`)
	domain, asset, tok, id := up["upload_domain"].(string), up["package_asset_id"].(string), up["url_encoded_token"].(string), up["id"].(string)
	content := randomBytes(5<<20 + 3)
	q := url.Values{"file_name": {"a.zip"}, "file_size": {fmt.Sprint(len(content))}, "token": {tok}}
	if code, ans := uploadDomain(t, domain, "set_metadata", asset, q, nil); code != 200 || len(ans["chunk_list"].([]any)) != 2 {
		t.Fatalf("set_metadata: %d %v", code, ans)
	}
	block := func(n string, body []byte, token string) (int, map[string]any) {
		return uploadDomain(t, domain, "upload_chunk", asset, url.Values{"block_number": {n}, "token": {token}}, body)
	}
	for _, c := range []struct {
		name, n string
		body    []byte
		token   string
		want    int
		code    string
	}{
		{"block 0", "0", content[:4<<20], tok, 400, "BadRequest"},
		{"block 3 of 2", "3", content[:4<<20], tok, 400, "BadRequest"},
		{"a short block", "1", content[:100], tok, 400, "BadRequest"},
		{"a long last block", "2", content[4<<20:], tok + "x", 404, "NotFound"},
		{"another upload's token", "1", content[:4<<20], "hgr_nope", 404, "NotFound"},
	} {
		code, ans := block(c.n, c.body, c.token)
		if code != c.want || ans["code"] != c.code || ans["message"] == "" || ans["error"] != true {
			t.Errorf("%s: %d %v", c.name, code, ans)
		}
	}
	if code, ans := uploadDomain(t, domain, "finished", asset, url.Values{"token": {tok}}, nil); code != 200 || ans["state"] == "Done" || len(ans["missing_chunks"].([]any)) != 2 {
		t.Errorf("finished with no block: %d %v", code, ans)
	}
	if code, _, raw := e.acCall("PATCH", "/v0.1/apps/acme/app/uploads/releases/"+id, admin, `{"upload_status":"uploadFinished"}`); code != 400 {
		t.Errorf("patched before finished: %d %s", code, raw)
	}
	block("1", content[:4<<20], tok)
	block("2", content[4<<20:], tok)
	uploadDomain(t, domain, "finished", asset, url.Values{"token": {tok}}, nil)
	if code, ans := block("2", content[4<<20:], tok); code != http.StatusConflict || ans["code"] != "Conflict" {
		t.Errorf("a block after finished: %d %v", code, ans)
	}
	// Another project's upload and release are not found from here.
	e.mustReq(201, "POST", "/api/v1/workspace/acme/project", admin, `{"slug":"other"}`, nil)
	if code, ans, _ := e.acCall("GET", "/v0.1/apps/acme/other/uploads/releases/"+id, admin, ""); code != 404 || ans["code"] != "NotFound" {
		t.Errorf("another app's upload: %d %v", code, ans)
	}
	if code, ans, _ := e.acCall("GET", "/v0.1/apps/acme/app/releases/999999", admin, ""); code != 404 || ans["code"] != "NotFound" {
		t.Errorf("no such release: %d %v", code, ans)
	}
	other := e.appToken(admin, "other", "upload")
	if code, ans, _ := e.acCall("POST", "/v0.1/apps/acme/app/uploads/releases", other, `{}`); code != 404 || ans["code"] != "NotFound" {
		t.Errorf("a token of another app: %d %v", code, ans)
	}
	if code, ans, _ := e.acCall("POST", "/v0.1/apps/acme/app/uploads/releases", "", `{}`); code != 401 || ans["code"] != "Unauthorized" {
		t.Errorf("no token: %d %v", code, ans)
	}
}

// An abandoned upload expires after a day: gc removes its staged blocks
// and its record.
func TestAppCenterUploadExpires(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	_, up, _ := e.acCall("POST", "/v0.1/apps/acme/app/uploads/releases", admin, `{}`)
	domain, asset, tok, id := up["upload_domain"].(string), up["package_asset_id"].(string), up["url_encoded_token"].(string), up["id"].(string)
	content := randomBytes(5 << 20)
	uploadDomain(t, domain, "set_metadata", asset, url.Values{"file_name": {"a.zip"}, "file_size": {fmt.Sprint(len(content))}, "token": {tok}}, nil)
	if code, _ := uploadDomain(t, domain, "upload_chunk", asset, url.Values{"block_number": {"1"}, "token": {tok}}, content[:4<<20]); code != 200 {
		t.Fatalf("block: %d", code)
	}
	staged := filepath.Join(e.blobs.Dir(), "staging", asset)
	if _, err := os.Stat(staged); err != nil {
		t.Fatalf("no staged block: %v", err)
	}
	e.advance(25 * time.Hour)
	res, err := e.depot.GC()
	if err != nil || res.ReleaseUploads != 1 {
		t.Fatalf("gc: %+v %v", res, err)
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Errorf("the staged block is still there: %v", err)
	}
	if code, ans, _ := e.acCall("GET", "/v0.1/apps/acme/app/uploads/releases/"+id, admin, ""); code != 404 || ans["code"] != "NotFound" {
		t.Errorf("the expired upload: %d %v", code, ans)
	}
}

// App Center's distribution groups are tester groups: the CLI's -g finds
// the group and its members, gives the release to it (a page for the
// group shows it, marked mandatory) and notify_testers mails each member
// once; an unknown group is App Center's 404, as is another workspace's.
func TestAppCenterGroups(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"name":"Testers"}`, nil)
	code, g, raw := e.acCall("GET", "/v0.1/apps/acme/app/distribution_groups/Testers", admin, "")
	if code != 200 || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(fmt.Sprint(g["id"])) {
		t.Fatalf("group: %d %s", code, raw)
	}
	code, _, raw = e.acCall("GET", "/v0.1/apps/acme/app/distribution_groups/Testers/members", admin, "")
	var members []map[string]any
	if json.Unmarshal(raw, &members); code != 200 || len(members) != 2 || members[0]["email"] != "ana@example.com" {
		t.Fatalf("members: %d %s", code, raw)
	}
	for _, path := range []string{"/v0.1/apps/acme/app/distribution_groups/Nobody", "/v0.1/apps/acme/app/distribution_groups/Nobody/members"} {
		if code, ans, _ := e.acCall("GET", path, admin, ""); code != 404 || ans["code"] != "NotFound" {
			t.Errorf("%s: %d %v", path, code, ans)
		}
	}
	seen := len(mp.Messages())
	rid := e.acUpload(admin, "Demo.ipa", []byte(demoIPA()), "5.0", "50")
	release := fmt.Sprintf("/v0.1/apps/acme/app/releases/%d", int(rid))
	code, added, raw := e.acCall("POST", release+"/groups", admin, fmt.Sprintf(`{"id":%q,"mandatory_update":true,"notify_testers":true}`, g["id"]))
	if code != http.StatusCreated || added["id"] != g["id"] {
		t.Fatalf("add to group: %d %s", code, raw)
	}
	// Given again: no second mail.
	e.acCall("POST", release+"/groups", admin, fmt.Sprintf(`{"id":%q,"notify_testers":true}`, g["id"]))
	got, _ := mailsTo(t, e, mp, seen)
	wantMailed(t, "notify_testers", got, "ana@example.com", "bo@example.com")
	_, rel, _ := e.acCall("GET", release, admin, "")
	if rel["mandatory_update"] != true || fmt.Sprint(rel["distribution_groups"]) != "[map[name:qa]]" {
		t.Errorf("the release: %v", rel)
	}
	ana := e.signInTester(mp, "/d/acme/ac-app-qa", "ana@example.com")
	if code, body, _ := e.getPage("/d/acme/ac-app-qa", ana); code != 200 || !strings.Contains(body, "labelled 5.0 (50) at upload") || !strings.Contains(body, `id="mandatory"`) {
		t.Errorf("the group's page: %d %s", code, body)
	}
	// Another workspace's group is not this one's.
	e.mustReq(201, "POST", "/api/v1/workspace", admin, `{"slug":"rival"}`, nil)
	e.mustReq(201, "POST", "/api/v1/workspace/rival/tester-group", admin, `{"slug":"theirs"}`, nil)
	e.mustReq(201, "POST", "/api/v1/workspace/rival/project", admin, `{"slug":"app"}`, nil)
	_, theirs, _ := e.acCall("GET", "/v0.1/apps/rival/app/distribution_groups/theirs", admin, "")
	if code, ans, _ := e.acCall("POST", release+"/groups", admin, fmt.Sprintf(`{"id":%q}`, theirs["id"])); code != 404 || ans["code"] != "NotFound" {
		t.Errorf("another workspace's group: %d %v", code, ans)
	}
}

// fastlane's appcenter_upload (fastlane-plugin-appcenter 2.1.3,
// appcenter_helper.rb), replayed call by call: blocks one after another
// with the file's content type, finished then PATCH, polled until
// release_distinct_id is an Integer; the destination found by name and
// given the release with mandatory_update and notify_testers; the notes
// PUT; the Sparkle signatures PATCHed as "metadata" (taken, not kept).
func TestFastlaneAppCenterUpload(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	e.mustReq(200, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"name":"Beta Testers"}`, nil)
	app := "/v0.1/apps/acme/app"
	code, up, raw := e.acCall("POST", app+"/uploads/releases", admin, `{"build_version":"3.3","build_number":"33"}`)
	if code != 201 {
		t.Fatalf("create_release_upload: %d %s", code, raw)
	}
	domain, asset, tok, id := up["upload_domain"].(string), up["package_asset_id"].(string), up["url_encoded_token"].(string), up["id"].(string)
	file := []byte(helloAPK(t))
	// set_metadata_url, as the action writes it: nothing escaped.
	r, _ := http.NewRequest("POST", fmt.Sprintf("%s/upload/set_metadata/%s?file_name=%s&file_size=%d&token=%s&content_type=%s",
		domain, asset, "hello.apk", len(file), tok, "application/vnd.android.package-archive"), nil)
	resp, body := sendNoRedirect(t, r)
	var meta map[string]any
	json.Unmarshal(body, &meta)
	chunk, isInt := meta["chunk_size"].(float64)
	if resp.StatusCode != 200 || !isInt || chunk != float64(int64(chunk)) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("set_metadata: chunk_size must be an Integer: %d %s", resp.StatusCode, body)
	}
	for n, off := 1, 0; off < len(file); n, off = n+1, off+int(chunk) { // File#each_chunk
		end := min(off+int(chunk), len(file))
		r, _ := http.NewRequest("POST", fmt.Sprintf("%s/upload/upload_chunk/%s?token=%s&block_number=%d", domain, asset, tok, n), bytes.NewReader(file[off:end]))
		r.Header.Set("Content-Type", "application/vnd.android.package-archive")
		resp, body := sendNoRedirect(t, r)
		var ans map[string]any
		if json.Unmarshal(body, &ans); resp.StatusCode != 200 || ans["error"] != false {
			t.Fatalf("upload_build block %d: %d %s", n, resp.StatusCode, body)
		}
	}
	if code, fin := uploadDomain(t, domain, "finished", asset, url.Values{"token": {tok}}, nil); code != 200 || fin["error"] != false {
		t.Fatalf("finish_release_upload: %d %v", code, fin)
	}
	e.acCall("PATCH", app+"/uploads/releases/"+id, admin, `{"upload_status":"uploadFinished"}`)
	var rid float64
	for deadline := time.Now().Add(20 * time.Second); rid == 0; time.Sleep(50 * time.Millisecond) {
		_, st, raw := e.acCall("GET", "v0.1/apps/acme/app/uploads/releases/"+id, admin, "")
		switch {
		case st["upload_status"] == "readyToBePublished":
			rid = st["release_distinct_id"].(float64)
			if bytes.Contains(raw, []byte(`"release_distinct_id":"`)) || rid != float64(int64(rid)) {
				t.Fatalf("release_distinct_id.is_a?(Integer) would fail: %s", raw)
			}
		case st["upload_status"] == "error" || time.Now().After(deadline):
			t.Fatalf("poll_for_release_id: %s", raw)
		}
	}
	release := fmt.Sprintf("%s/releases/%d", app, int64(rid))
	if code, _, raw := e.acCall("PUT", release, admin, `{"release_notes":"From fastlane."}`); code != 200 {
		t.Fatalf("update_release: %d %s", code, raw)
	}
	if code, _, raw := e.acCall("PATCH", release, admin, `{"metadata":{"ed_signature":"sig"}}`); code != 200 {
		t.Fatalf("update_release_metadata: %d %s", code, raw)
	}
	code, dest, raw := e.acCall("GET", app+"/distribution_groups/"+url.PathEscape("Beta Testers"), admin, "")
	if code != 200 {
		t.Fatalf("get_destination: %d %s", code, raw)
	}
	seen := len(mp.Messages())
	code, dist, raw := e.acCall("POST", release+"/groups", admin, fmt.Sprintf(`{"id":%q,"mandatory_update":false,"notify_testers":true}`, dest["id"]))
	if code != 201 {
		t.Fatalf("add_to_destination: %d %s", code, raw)
	}
	_ = dist
	got, _ := mailsTo(t, e, mp, seen)
	wantMailed(t, "fastlane's notify_testers", got, "ana@example.com", "bo@example.com")
	_, rel, _ := e.acCall("GET", release, admin, "")
	if rel["release_notes"] != "From fastlane." || rel["short_version"] != "3.3" {
		t.Errorf("the release: %v", rel)
	}
}

// fastlane's dSYM upload: a symbol upload, the file PUT whole to its URL
// as Azure's blob store takes it, committed: an attachment of the build of
// that version. An aborted one keeps nothing. And fastlane's "add the app
// to the group" is answered as already done.
func TestAppCenterSymbols(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.mustReq(201, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"qa"}`, nil)
	e.acUpload(admin, "Demo.ipa", []byte(demoIPA()), "6.0", "60")
	dsym := randomBytes(300 << 10)
	send := func(status string) {
		t.Helper()
		code, up, raw := e.acCall("POST", "/v0.1/apps/acme/app/symbol_uploads", admin, `{"symbol_type":"Apple"}`)
		if code != 200 || up["upload_url"] == nil {
			t.Fatalf("create_dsym_upload: %d %s", code, raw)
		}
		r, _ := http.NewRequest("PUT", up["upload_url"].(string), bytes.NewReader(dsym))
		r.Header.Set("x-ms-blob-type", "BlockBlob")
		r.Header.Set("Content-Type", "application/octet-stream")
		if resp, body := sendNoRedirect(t, r); resp.StatusCode/100 != 2 {
			t.Fatalf("upload_symbol: %d %s", resp.StatusCode, body)
		}
		if code, _, raw := e.acCall("PATCH", "/v0.1/apps/acme/app/symbol_uploads/"+up["symbol_upload_id"].(string), admin, `{"status":"`+status+`"}`); code != 200 {
			t.Fatalf("update_symbol_upload %s: %d %s", status, code, raw)
		}
	}
	send("aborted")
	send("committed")
	builds, _, _, _ := e.store.SearchBuilds(e.build.ProjectID, store.BuildQuery{}, "", 1)
	var symbols []store.File
	for _, f := range builds[0].Files {
		if f.Name == "symbols.zip" {
			symbols = append(symbols, f)
		}
	}
	if len(symbols) != 1 || symbols[0].Size != int64(len(dsym)) || symbols[0].Type != store.FileAttachment {
		t.Fatalf("the build's symbols: %+v", symbols)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.blobs.Dir(), "staging")); len(entries) != 0 {
		t.Errorf("%d staged uploads left", len(entries))
	}
	if code, ans, _ := e.acCall("POST", "/v0.1/orgs/acme/distribution_groups/qa/apps", admin, `{"apps":[{"name":"app"}]}`); code != 409 || ans["code"] != "Conflict" {
		t.Errorf("add_new_app_to_distribution_group: %d %v", code, ans)
	}
}

// An upload's own token works while the API token that made it could
// make it: signing that token out, or taking its owner's right to upload,
// stops the upload at once.
func TestAppCenterUploadStopsWithItsToken(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "dev", "correct horse battery", auth.RoleDeveloper)
	start := func(token string) (domain, asset, tok string) {
		t.Helper()
		code, up, raw := e.acCall("POST", "/v0.1/apps/acme/app/uploads/releases", token, `{}`)
		if code != 201 {
			t.Fatalf("create: %d %s", code, raw)
		}
		return up["upload_domain"].(string), up["package_asset_id"].(string), up["url_encoded_token"].(string)
	}
	meta := func(domain, asset, tok string) int {
		t.Helper()
		code, _ := uploadDomain(t, domain, "set_metadata", asset, url.Values{"file_name": {"a.zip"}, "file_size": {"10"}, "token": {tok}}, nil)
		return code
	}

	session := e.login("dev", "correct horse battery")
	domain, asset, tok := start(session)
	if code := meta(domain, asset, tok); code != 200 {
		t.Fatalf("set_metadata while the token is good: %d", code)
	}
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"dev","role":"viewer"}`, nil)
	if code := meta(domain, asset, tok); code != 404 {
		t.Fatalf("set_metadata after the owner may no longer upload: %d", code)
	}

	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"dev","role":"developer"}`, nil)
	domain, asset, tok = start(session)
	e.mustReq(http.StatusNoContent, "POST", "/api/v1/auth/logout", session, "", nil)
	if code, _ := uploadDomain(t, domain, "upload_chunk", asset, url.Values{"block_number": {"1"}, "token": {tok}}, []byte("0123456789")); code != 404 {
		t.Fatalf("a block after the token was signed out: %d", code)
	}
}

// A shutdown waits for the builds being made of finished uploads (within
// its timeout): when Serve returns, the build is there.
func TestShutdownWaitsForAppCenterBuild(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()

	id := e.acSend(admin, "big.zip", randomBytes(24<<20), "1.0", "1")
	cancel() // while the build is being made
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	u, err := e.store.ReleaseUpload(id)
	if err != nil || u.BuildID == "" || u.Status == store.UploadError {
		t.Fatalf("when Serve returned: status %q, build %q, error %q (%v)", u.Status, u.BuildID, u.Error, err)
	}
}
