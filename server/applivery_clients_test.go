package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/pkginfo/pkgtest"
)

// The requests of Applivery's CI clients, replayed as their public source
// makes them (paths, headers, field names), against Hangar with only the
// host changed.

// form is a multipart body as a client builds it: fields in order, and the
// build as a file part with the client's content type.
type form struct {
	fields   [][2]string
	file     string // the field of the build
	name     string
	content  []byte
	fileType string
}

func (f form) encode(t *testing.T) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, kv := range f.fields {
		mw.WriteField(kv[0], kv[1])
	}
	if f.file != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.file, f.name))
		h.Set("Content-Type", f.fileType)
		w, _ := mw.CreatePart(h)
		w.Write(f.content)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

type appliveryBuild struct {
	ID, Status, VersionName, BuildPlatform string
	Deployer                               struct {
		Name string
		Info map[string]string
	}
	Info struct {
		Icon    string
		Android *struct{ PackageName, VersionCode, MinSDKVersion string }
		IOS     *struct{ Plist map[string]any }
	}
	Size                    int64
	ProcessTime, QueuedTime int64
	UploadedBy              struct{ Name string }
	UpdatedAt, CreatedAt    string
	ApplicationInfo         struct{ Slug string }
}

// fastlane-plugin-applivery: Faraday's multipart request with the nested
// deployer hash (bracketed names), "bearer" in lower case, and its error
// handling: 4002 is "The app_token is empty", 4004 "The app_token is not
// valid".
func TestFastlanePluginUpload(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	token := e.appToken(admin, "app", "")
	f := form{fields: [][2]string{
		{"changelog", "Uploaded automatically with fastlane plugin"}, {"notifyCollaborators", "true"}, {"notifyEmployees", "true"},
		{"notifyMessage", "New version uploaded!"}, {"filter", "group1,group2|group3"},
		{"deployer[name]", "fastlane"}, {"deployer[info][buildNumber]", "4711"}, {"deployer[info][branch]", "release/2.0"},
		{"deployer[info][commit]", "f52ace0"}, {"deployer[info][commitMessage]", "Fix the login\n\nCloses #12"},
		{"deployer[info][repositoryUrl]", "git@github.com:acme/app.git"}, {"deployer[info][tag]", "v2.0.0"},
		{"deployer[info][triggerTimestamp]", "1763950000"}, {"versionName", "RC 2.0"}, {"tags", "RC1, QA"},
	}, file: "build", name: "app-release.apk", content: []byte(helloAPK(t)), fileType: "application/octet-stream"}
	ctype, body := f.encode(t)
	headers := func(tok string) map[string]string {
		return map[string]string{"Content-Type": ctype, "Accept": "application/json", "Authorization": "bearer " + tok}
	}
	code, env, raw := e.call("POST", "/v1/integrations/builds", headers(token), body)
	if code != 201 || !env.Status {
		t.Fatalf("upload: %d %s", code, raw)
	}
	var b appliveryBuild
	json.Unmarshal(env.Data, &b)
	if b.ID == "" || b.VersionName != "RC 2.0" || b.Deployer.Name != "fastlane" || b.Deployer.Info["branch"] != "release/2.0" ||
		b.Deployer.Info["commitMessage"] != "Fix the login\n\nCloses #12" || b.Deployer.Info["triggerTimestamp"] != "1763950000" ||
		b.Deployer.Info["buildNumber"] != "4711" || b.Deployer.Info["tag"] != "v2.0.0" {
		t.Fatalf("build: %s", raw)
	}
	// What the plugin tells its user, by code.
	for _, c := range []struct{ token, want string }{{"", "4002"}, {"hgr_not_a_real_token_at_all", "4004"}, {"x", "4004"}} {
		code, env, raw = e.call("POST", "/v1/integrations/builds", headers(c.token), body)
		if code != 401 || env.Error == nil || fmt.Sprint(env.Error.Code) != c.want {
			t.Errorf("token %q: %d %s, want code %s", c.token, code, raw, c.want)
		}
	}
	// The workspace API shows what CI said.
	e.waitProcessed(b.ID)
	var wb struct {
		Deployer struct {
			Info struct{ Branch, Commit string }
		}
		Tags []string
	}
	e.mustReq(200, "GET", projPath+"/build/"+b.ID, admin, "", &wb)
	if wb.Deployer.Info.Branch != "release/2.0" || wb.Deployer.Info.Commit != "f52ace0" || len(wb.Tags) != 2 {
		t.Errorf("workspace API build: %+v", wb)
	}
	// And the console's build page.
	e.member(admin, "rel", "rel-password", "viewer")
	code, page := e.page("GET", "/w/acme/p/app/b/"+b.ID, e.login("rel", "rel-password"), "")
	for _, want := range []string{`id="deployer">fastlane #4711`, "<code>release/2.0</code>", "<code>f52ace0</code>", "Fix the login", "<code>v2.0.0</code>"} {
		if code != 200 || !strings.Contains(string(page), want) {
			t.Errorf("console build page lacks %q", want)
		}
	}
}

// Applivery's Bitrise deploy step: curl --fail, dotted deployer fields,
// success judged by the absence of "error" in the answer.
func TestBitriseStepUpload(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	token := e.appToken(admin, "app", "")
	f := form{fields: [][2]string{{"versionName", "1.4.0"}, {"changelog", "Bitrise build"}, {"notifyCollaborators", "false"},
		{"notifyEmployees", "false"}, {"tags", ""}, {"filter", ""}}, file: "build", name: "app-release.aab", content: pkgtest.AAB(),
		fileType: "application/octet-stream"}
	ctype, body := f.encode(t)
	// curl -F adds the deployer fields after the build part.
	body = bytes.Replace(body, []byte("--"+strings.TrimPrefix(ctype, "multipart/form-data; boundary=")+"--"), nil, 1)
	var extra bytes.Buffer
	boundary := strings.TrimPrefix(ctype, "multipart/form-data; boundary=")
	for _, kv := range [][2]string{{"deployer.name", "bitrise"}, {"deployer.info.commitMessage", "Merge pull request #9"},
		{"deployer.info.commit", "9f8e7d6"}, {"deployer.info.branch", "main"}, {"deployer.info.tag", ""},
		{"deployer.info.triggerTimestamp", "2026-11-24T10:00:00Z"}, {"deployer.info.buildUrl", "https://app.bitrise.io/build/abc"},
		{"deployer.info.ciUrl", "https://app.bitrise.io/app/def"}, {"deployer.info.repositoryUrl", "https://github.com/acme/app"},
		{"deployer.info.buildNumber", "88"}} {
		fmt.Fprintf(&extra, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, kv[0], kv[1])
	}
	fmt.Fprintf(&extra, "--%s--\r\n", boundary)
	body = append(bytes.TrimSuffix(body, []byte("\r\n")), append([]byte("\r\n"), extra.Bytes()...)...)
	code, _, raw := e.call("POST", "/v1/integrations/builds", map[string]string{"Content-Type": ctype, "Authorization": "bearer " + token}, body)
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); code >= 400 || err != nil || generic["error"] != nil || generic["status"] != true {
		t.Fatalf("upload: %d %s", code, raw)
	}
	var b appliveryBuild
	json.Unmarshal(mustData(t, raw), &b)
	if b.Deployer.Name != "bitrise" || b.Deployer.Info["buildUrl"] != "https://app.bitrise.io/build/abc" || b.Deployer.Info["branch"] != "main" {
		t.Fatalf("deployer: %s", raw)
	}
}

func mustData(t *testing.T, raw []byte) json.RawMessage {
	t.Helper()
	var env orgResp
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	return env.Data
}

// A GitHub Action that distributes per branch
// (dgilbert-foreflight/applivery-distribution): upload with dotted
// deployer fields, poll the build until processed, list publications by
// slug, create one filtered by the git branch, read its distributionUrl;
// a second run finds the publication instead of making another, and its
// page shows the newest build of the branch.
func TestGitHubActionPerBranch(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	token := e.appToken(admin, "app", "publish-openly") // the action makes public pages
	auth := map[string]string{"Authorization": "Bearer " + token}
	branch, slug := "feature/login", "feature-login"
	run := func(sha string) (buildID, url string) {
		f := form{fields: [][2]string{{"versionName", branch}, {"buildPlatform", "ios"}, {"changelog", "From CI"},
			{"notifyMessage", "A new build has been uploaded to Applivery for " + branch}, {"notifyLanguage", "en"},
			{"deployer.name", "GitHub Actions"}, {"deployer.info.commit", sha}, {"deployer.info.commitMessage", "Add login"},
			{"deployer.info.branch", branch}, {"deployer.info.triggerTimestamp", time.Now().UTC().Format(time.RFC3339)},
			{"deployer.info.ciUrl", "https://github.com"}, {"deployer.info.repositoryUrl", "https://github.com/acme/app"},
			{"deployer.info.buildUrl", "https://github.com/acme/app/actions/runs/1"}, {"deployer.info.buildNumber", "1"}},
			file: "build", name: "App.ipa", content: []byte(demoIPA()), fileType: "application/octet-stream"}
		ctype, body := f.encode(t)
		h := map[string]string{"Content-Type": ctype, "Authorization": auth["Authorization"]}
		code, env, raw := e.call("POST", "/v1/integrations/builds", h, body)
		if code != 201 {
			t.Fatalf("upload: %d %s", code, raw)
		}
		var b appliveryBuild
		json.Unmarshal(env.Data, &b)
		for deadline := time.Now().Add(10 * time.Second); b.Status != "processed"; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("build not processed: %+v", b)
			}
			code, env, raw = e.call("GET", "/v1/integrations/builds/"+b.ID, auth, nil)
			if code != 200 {
				t.Fatalf("poll: %d %s", code, raw)
			}
			json.Unmarshal(env.Data, &b)
		}
		if b.BuildPlatform != "ios" || b.Info.IOS == nil || b.Info.IOS.Plist["CFBundleIdentifier"] != "com.example.demo" || b.Size == 0 ||
			b.ProcessTime < 0 || b.UploadedBy.Name != "ci" || b.UpdatedAt == "" || b.ApplicationInfo.Slug != "app" {
			t.Errorf("processed build: %+v", b)
		}
		// fetchPublications: the slug, page 1, then as many pages as totalPages says.
		code, env, raw = e.call("GET", "/v1/integrations/distributions?slug="+slug+"&page=1", map[string]string{
			"Authorization": auth["Authorization"], "Content-Type": "application/json"}, nil)
		var pubs struct {
			Items []struct {
				ID, Slug, DistributionURL string
				Filter                    struct{ Type, Value string }
			}
			TotalPages int
		}
		if err := json.Unmarshal(env.Data, &pubs); code != 200 || err != nil || pubs.Items == nil {
			t.Fatalf("list publications: %d %s", code, raw)
		}
		if len(pubs.Items) == 1 && pubs.Items[0].Slug == slug {
			return b.ID, pubs.Items[0].DistributionURL
		}
		body, _ = json.Marshal(map[string]any{"slug": slug, "visibility": "unlisted", "security": "public", "password": "",
			"filter": map[string]string{"type": "gitBranch", "value": branch}, "showDevInfo": true, "showHistory": true})
		code, env, raw = e.call("POST", "/v1/integrations/distributions", map[string]string{
			"Authorization": auth["Authorization"], "Content-Type": "application/json"}, body)
		var pub struct{ ID, Slug, DistributionURL, CreatedAt, UpdatedAt string }
		if err := json.Unmarshal(env.Data, &pub); code != 201 || err != nil || pub.DistributionURL == "" || pub.CreatedAt == "" {
			t.Fatalf("create publication: %d %s", code, raw)
		}
		return b.ID, pub.DistributionURL
	}
	first, url1 := run("aaa111")
	second, url2 := run("bbb222")
	if url1 != url2 || url1 != e.ts.URL+"/d/acme/"+slug {
		t.Fatalf("publication URLs %q, %q", url1, url2)
	}
	ws, _ := e.store.WorkspaceBySlug("acme")
	if ds, _ := e.store.Distributions(ws.ID, ""); len(ds) != 1 {
		t.Fatalf("%d distributions after two runs, want 1", len(ds))
	}
	// Another branch's build does not take the page over.
	mainBuild := e.orgUpload(admin, part{"versionName", "", "main"}, part{"deployer.info.branch", "", "main"}, part{"build", "App.ipa", demoIPA()})
	e.waitProcessed(mainBuild.ID)
	resp, page := get(t, url1, http.Header{"User-Agent": {desktopUA}})
	wantCode(t, resp, page, 200)
	if !strings.Contains(string(page), `id="branch">feature/login<`) {
		t.Error("the page (developer info on) does not show the branch")
	}
	files, _ := e.store.Files(second)
	firstFiles, _ := e.store.Files(first)
	if !regexp.MustCompile(`id="download" href="[^"]*/f/`+files[0].ID+`/`).Match(page) ||
		!strings.Contains(string(page), "/f/"+firstFiles[0].ID+"/") || strings.Contains(string(page), ">Version main<") {
		t.Fatalf("the branch's page does not offer its newest build: %s", page)
	}
}

// Builds lists: Applivery's paging and sorting over 120 builds, filters by
// git branch and tag, and an app token never reads another app's build.
func TestIntegrationBuildLists(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	token := e.appToken(admin, "app", "")
	auth := map[string]string{"Authorization": "Bearer " + token}
	ids := []string{e.build.ID} // oldest first: the env's own build, then 120
	for i := range 120 {
		ctype, body := multipartBody(t, part{"versionName", "", fmt.Sprint("1.0.", i)}, part{"deployer[info][branch]", "", []string{"main", "dev"}[i%2]},
			part{"deployer.info.tag", "", fmt.Sprint("v", i%3)})
		r := e.org(201, "POST", "/v1/integrations/builds", token, ctype, body)
		var b struct{ ID string }
		json.Unmarshal(r.Data, &b)
		ids = append(ids, b.ID)
	}
	type page struct {
		Items                               []struct{ ID string }
		TotalItems, TotalPages, Page, Limit int
	}
	as := auth
	get := func(path string) page {
		t.Helper()
		code, env, raw := e.call("GET", path, as, nil)
		var p page
		if code != 200 || json.Unmarshal(env.Data, &p) != nil {
			t.Fatalf("%s: %d %s", path, code, raw)
		}
		return p
	}
	check := func(path string, want []string, limit int) {
		t.Helper()
		pages := (len(want) + limit - 1) / limit
		for n := 1; n <= pages+1; n++ {
			p := get(fmt.Sprintf("%s&page=%d&limit=%d", path, n, limit))
			exp := want[min((n-1)*limit, len(want)):min(n*limit, len(want))]
			var got []string
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(exp) || p.TotalItems != len(want) || p.TotalPages != pages || p.Page != n || p.Limit != limit {
				t.Fatalf("%s page %d: got %v (%d items, %d pages), want %v (%d, %d)", path, n, got, p.TotalItems, p.TotalPages, exp, len(want), pages)
			}
		}
	}
	newest := make([]string, len(ids))
	for i, id := range ids {
		newest[len(ids)-1-i] = id
	}
	check("/v1/integrations/builds?sort=createdAt:desc", newest, 25)
	check("/v1/integrations/builds?sort=createdAt:asc", ids, 50)
	as = map[string]string{"Authorization": "Bearer " + admin} // the organization API: a person's or service account's token
	check(appPath+"/builds?x=1", newest, 100)
	as = auth
	var dev, v1 []string
	for i, id := range newest[:120] {
		if (119-i)%2 == 1 {
			dev = append(dev, id)
		}
		if (119-i)%3 == 1 {
			v1 = append(v1, id)
		}
	}
	check("/v1/integrations/builds?gitBranch=dev", dev, 25)
	check("/v1/integrations/builds?gitTag=v1", v1, 7)
	code, env, _ := e.call("GET", "/v1/integrations/builds?limit=500", auth, nil)
	if code != 400 || env.Error == nil || env.Error.Code != 4000 {
		t.Errorf("limit 500: %d %+v", code, env.Error)
	}
	// Project B's app token does not see project A's build.
	e.mustReq(201, "POST", "/api/v1/workspace/acme/project", admin, `{"slug":"other"}`, nil)
	other := map[string]string{"Authorization": "Bearer " + e.appToken(admin, "other", "")}
	code, env, _ = e.call("GET", "/v1/integrations/builds/"+ids[0], other, nil)
	if code != 404 || env.Error == nil || env.Error.Code != 3001 {
		t.Errorf("another app's build: %d %+v", code, env.Error)
	}
	if p := get("/v1/integrations/builds?page=1"); p.TotalItems != 121 {
		t.Errorf("own list: %d", p.TotalItems)
	}
	code, env, _ = e.call("GET", "/v1/integrations/builds", other, nil)
	var p page
	json.Unmarshal(env.Data, &p)
	if code != 200 || p.TotalItems != 0 {
		t.Errorf("the other app's list: %d %+v", code, p)
	}
	// Apps.
	var apps page
	r := e.org(200, "GET", "/v1/organizations/acme/apps", admin, "", nil)
	json.Unmarshal(r.Data, &apps)
	if apps.TotalItems != 2 {
		t.Errorf("apps: %+v", apps)
	}
}

// An app token is "upload builds to that project": its answers carry no
// download URL, and by default it may not publish; with scope publish it
// makes members-only pages (and is refused public ones); with
// publish-openly, public ones. Before, a leaked upload secret
// listed every file's signed location and published the whole project.
func TestAppTokenScope(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	bearer := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	}
	upload := bearer(e.appToken(admin, "app", ""))
	b := e.orgUpload(admin, part{"versionName", "", "1.0"}, part{"build", "App.ipa", demoIPA()})
	e.waitProcessed(b.ID)

	for _, path := range []string{"/v1/integrations/builds", "/v1/integrations/builds/" + b.ID} {
		code, _, raw := e.call("GET", path, upload, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, raw)
		}
		if bytes.Contains(raw, []byte("sig=")) || bytes.Contains(raw, []byte(`"location"`)) || bytes.Contains(raw, []byte("/dl/")) {
			t.Errorf("GET %s as an app token hands out download URLs: %s", path, raw)
		}
	}
	// Members who may download still get them.
	code, _, raw := e.call("GET", "/v1/organizations/acme/apps/app/builds/"+b.ID, bearer(admin), nil)
	if code != 200 || !bytes.Contains(raw, []byte(`"location":"`)) {
		t.Fatalf("organization API as admin: %d %s", code, raw)
	}

	publish := func(tok map[string]string, body string) (int, []byte) {
		code, _, raw := e.call("POST", "/v1/integrations/distributions", tok, []byte(body))
		return code, raw
	}
	anonymous := func(slug string) int {
		resp, _ := get(t, e.ts.URL+"/d/acme/"+slug, http.Header{"User-Agent": {desktopUA}})
		return resp.StatusCode
	}
	if code, raw := publish(upload, `{"slug":"leak","security":"public"}`); code != 403 {
		t.Fatalf("public publication by an upload-only token: %d %s", code, raw)
	}
	if code, raw := publish(upload, `{"slug":"leak2"}`); code != 403 {
		t.Fatalf("publication by an upload-only token: %d %s", code, raw)
	}
	if anonymous("leak") == 200 || anonymous("leak2") == 200 {
		t.Fatal("a refused publication is open to anonymous visitors")
	}

	members := bearer(e.appToken(admin, "app", "publish"))
	for _, body := range []string{`{"slug":"open","security":"public"}`, `{"slug":"open","security":"password","password":"shared-pw"}`} {
		if code, raw := publish(members, body); code != 403 || !bytes.Contains(raw, []byte("BUILD_SHARE_OPENLY")) {
			t.Fatalf("%s by a publish token: %d %s", body, code, raw)
		}
	}
	code, raw = publish(members, `{"slug":"team"}`)
	if code != 201 || !bytes.Contains(raw, []byte(`"security":"logged"`)) {
		t.Fatalf("publication by a publish token without security: %d %s (want members-only)", code, raw)
	}
	if c := anonymous("team"); c == 200 {
		t.Fatalf("a members-only page answers anonymous visitors %d", c)
	}
	// Nor can it open that page up through the workspace API.
	code, out := e.req("PATCH", "/api/v1/workspace/acme/project/app/distribution/team", members["Authorization"][len("Bearer "):], `{"security":"public"}`)
	if code != 403 {
		t.Fatalf("opening a page with a publish token: %d %s", code, out)
	}

	openly := bearer(e.appToken(admin, "app", "publish-openly"))
	if code, raw := publish(openly, `{"slug":"everyone","security":"public"}`); code != 201 {
		t.Fatalf("public publication by a publish-openly token: %d %s", code, raw)
	}
	if c := anonymous("everyone"); c != 200 {
		t.Fatalf("the public page: %d", c)
	}

	// Scopes are chosen when the token is made, and shown.
	var toks []struct{ Scope string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/project/app/app-token", admin, "", &toks)
	got := map[string]int{}
	for _, tk := range toks {
		got[tk.Scope]++
	}
	if got["upload"] != 1 || got["publish"] != 1 || got["publish-openly"] != 1 {
		t.Fatalf("scopes listed: %v", got)
	}
	if code, out := e.req("POST", "/api/v1/workspace/acme/project/app/app-token", admin, `{"scope":"everything"}`); code != 400 {
		t.Fatalf("unknown scope: %d %s", code, out)
	}
}
