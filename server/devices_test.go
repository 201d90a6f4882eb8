package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"howett.net/plist"

	"hangar/hangartest"
	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

// enrollment is a registration profile as served, and what it says.
type enrollment struct {
	URL, Challenge string
	Attributes     []string
}

func fetchEnrollment(t *testing.T, e *env, pageURL string) enrollment {
	t.Helper()
	_, body := do(t, "GET", pageURL, overHTTPS(iPhoneUA))
	m := regexp.MustCompile(`id="register" href="([^"]+)"`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no Register on the iPhone page: %s", body)
	}
	href := strings.ReplaceAll(m[1], "&amp;", "&")
	resp, body := do(t, "GET", viaProxy(href), overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-apple-aspen-config" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p struct {
		PayloadType, PayloadIdentifier, PayloadUUID, PayloadDisplayName string
		PayloadVersion                                                  int
		PayloadContent                                                  struct {
			URL, Challenge   string
			DeviceAttributes []string
		}
	}
	if _, err := plist.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.PayloadType != "Profile Service" || p.PayloadVersion != 1 || p.PayloadIdentifier == "" || p.PayloadUUID == "" ||
		p.PayloadContent.URL == "" || p.PayloadContent.Challenge == "" || len(p.PayloadContent.DeviceAttributes) == 0 {
		t.Fatalf("profile: %+v", p)
	}
	return enrollment{p.PayloadContent.URL, p.PayloadContent.Challenge, p.PayloadContent.DeviceAttributes}
}

// testLink is a public link as its JSON names it.
type testLink struct{ PublicLinkID, InstallURL string }

// ipaLink uploads the demo IPA (its profile lists pkgtest.ProfileDevice),
// waits for it to be processed and makes a link to it.
func ipaLink(e *env) (admin string, link testLink) {
	admin = e.adminToken()
	b := e.upload(admin, part{"file", "App.ipa", demoIPA()})
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)
	e.waitProcessed(b.BuildID)
	return admin, link
}

// answer is what iOS posts: the attributes asked for, signed.
func answer(t *testing.T, udid, challenge string) []byte {
	t.Helper()
	content, err := plist.Marshal(map[string]string{"UDID": udid, "PRODUCT": "iPhone15,2", "VERSION": "21F90", "SERIAL": "F2LXK0ABCD", "CHALLENGE": challenge}, plist.XMLFormat)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := hangartest.DeviceIdentity()
	msg, err := hangartest.SignCMS(content, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// viaProxy is the plain-HTTP address behind the TLS proxy the test
// pretends to be (newProxiedEnv): requests to it say X-Forwarded-Proto.
func viaProxy(u string) string { return strings.Replace(u, "https://", "http://", 1) }

// postAnswer posts a device's answer as iOS does, through the proxy, and
// does not follow the redirect.
func postAnswer(t *testing.T, enrollURL string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", viaProxy(enrollURL), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/pkcs7-signature")
	req.Header.Set("X-Forwarded-Proto", "https")
	return sendNoRedirect(t, req)
}

// An iPhone registers from a link's page as iOS does it; the device page
// then says "will install" for a build whose profile lists it and "not in
// this build's profile" for another device; the device is in the
// workspace's list and export.
func TestDeviceRegistration(t *testing.T) {
	e := newProxiedEnv(t)
	admin, link := ipaLink(e)

	en := fetchEnrollment(t, e, link.InstallURL)
	https := strings.Replace(e.ts.URL, "http://", "https://", 1)
	if !strings.HasPrefix(en.URL, https+"/enroll/") || !strings.Contains(strings.Join(en.Attributes, ","), "UDID") {
		t.Fatalf("enrollment: %+v", en)
	}
	for _, tc := range []struct {
		udid, want string
	}{
		{pkgtest.ProfileDevice, "Will install"},
		{"00008101-0011223344556677", "Not in this build&#39;s profile"},
	} {
		resp, body := postAnswer(t, en.URL, answer(t, tc.udid, en.Challenge))
		wantCode(t, resp, body, http.StatusMovedPermanently)
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, https+"/p/"+link.PublicLinkID+"/device/"+tc.udid+"?") {
			t.Fatalf("Location %q", loc)
		}
		resp, body = do(t, "GET", viaProxy(loc), overHTTPS(iPhoneUA))
		wantCode(t, resp, body, 200)
		page := string(body)
		if !strings.Contains(page, tc.udid) || !strings.Contains(page, tc.want) || !strings.Contains(page, "iPhone15,2") {
			t.Fatalf("device page for %s: %s", tc.udid, page)
		}
		// The device page's address is signed: another UDID in it is refused.
		resp, body = do(t, "GET", viaProxy(strings.Replace(loc, tc.udid, "00008101-0011223344556678", 1)), nil)
		wantCode(t, resp, body, 403)
	}
	// The registration token is a credential for an hour: the request log
	// names its route, not its path.
	tok := en.URL[strings.LastIndexByte(en.URL, '/')+1:]
	if logs := e.logs.String(); strings.Contains(logs, tok) || !strings.Contains(logs, "/enroll/:token") {
		t.Errorf("the request log shows the registration token, or no registration")
	}

	var devs []struct{ UDID, Product, SourceKind, SourceID string }
	e.mustReq(200, "GET", "/api/v1/workspace/acme/device", admin, "", &devs)
	if len(devs) != 2 || devs[0].SourceKind != "link" || devs[0].SourceID != link.PublicLinkID || devs[1].Product != "iPhone15,2" {
		t.Fatalf("devices: %+v", devs)
	}
	code, tsv := e.req("GET", "/api/v1/workspace/acme/device/export", admin, "")
	lines := strings.Split(strings.TrimSpace(string(tsv)), "\n")
	if code != 200 || len(lines) != 3 || lines[0] != "Device ID\tDevice Name\tDevice Platform" || !strings.Contains(string(tsv), pkgtest.ProfileDevice+"\t") ||
		!strings.HasSuffix(lines[1], "\tios") {
		t.Fatalf("export: %d %q", code, tsv)
	}
	// Registering again keeps one row.
	resp, body := postAnswer(t, en.URL, answer(t, pkgtest.ProfileDevice, en.Challenge))
	wantCode(t, resp, body, http.StatusMovedPermanently)
	e.mustReq(200, "GET", "/api/v1/workspace/acme/device", admin, "", &devs)
	if len(devs) != 2 {
		t.Fatalf("a second registration added a row: %+v", devs)
	}
	e.mustReq(204, "DELETE", "/api/v1/workspace/acme/device/"+pkgtest.ProfileDevice, admin, "", nil)
	e.mustReq(200, "GET", "/api/v1/workspace/acme/device", admin, "", &devs)
	if len(devs) != 1 {
		t.Fatalf("after delete: %+v", devs)
	}
	removed := 0
	for _, en := range e.auditSince(admin, "") {
		if en.Action == store.AuditDeviceRemoved && en.Target.ID == pkgtest.ProfileDevice && en.Actor.Name == "admin" {
			removed++
		}
	}
	if removed != 1 {
		t.Errorf("%d device.removed entries, want 1", removed)
	}
}

// Malformed, oversized, unsigned, tampered, wrongly challenged and
// expired answers get a clear 400 and record nothing.
func TestDeviceRegistrationRefuses(t *testing.T) {
	e := newProxiedEnv(t)
	admin, link := ipaLink(e)
	en := fetchEnrollment(t, e, link.InstallURL)

	good := answer(t, pkgtest.ProfileDevice, en.Challenge)
	tampered := bytes.Clone(good)
	i := bytes.Index(tampered, []byte(pkgtest.ProfileDevice))
	tampered[i] = '1'
	plain, _ := plist.Marshal(map[string]string{"UDID": pkgtest.ProfileDevice, "CHALLENGE": en.Challenge}, plist.XMLFormat)
	cert, key := hangartest.DeviceIdentity()
	notPlist, _ := hangartest.SignCMS([]byte("not a plist"), cert, key)
	for name, tc := range map[string]struct {
		url  string
		body []byte
		want string
	}{
		"unsigned plist":   {en.URL, plain, "not a signed device answer"},
		"garbage":          {en.URL, []byte("hello"), "not a signed device answer"},
		"oversized":        {en.URL, make([]byte, 70<<10), "larger than"},
		"tampered":         {en.URL, tampered, "signature does not verify"},
		"not a plist":      {en.URL, notPlist, "not a property list"},
		"other challenge":  {en.URL, answer(t, pkgtest.ProfileDevice, "forged"), "challenge"},
		"bad udid":         {en.URL, answer(t, "../../etc", en.Challenge), "no valid UDID"},
		"forged token":     {e.ts.URL + "/enroll/bC1mb28.AAAA", answer(t, pkgtest.ProfileDevice, "bC1mb28.AAAA"), "invalid or has expired"},
		"token of nothing": {e.ts.URL + "/enroll/x", good, "invalid or has expired"},
		"token respelled":  {respelledEnroll(t, en.URL), good, "invalid or has expired"},
	} {
		resp, body := postAnswer(t, tc.url, tc.body)
		if resp.StatusCode != 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// An hour later the profile's token has expired.
	e.advance(61 * 60e9)
	resp, body := postAnswer(t, en.URL, good)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "expired") {
		t.Errorf("expired: %d %s", resp.StatusCode, body)
	}
	var devs []any
	e.mustReq(200, "GET", "/api/v1/workspace/acme/device", admin, "", &devs)
	if len(devs) != 0 {
		t.Fatalf("refused answers recorded %d devices", len(devs))
	}
}

// The same from a password-protected distribution's page: the
// registration link is signed (the installer sends no cookie), the device
// is recorded from the distribution, and its page checks the build the
// distribution shows.
func TestDeviceRegistrationFromDistribution(t *testing.T) {
	e := newProxiedEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "App.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	d := e.distribution(admin, `{"slug":"beta","security":"password","password":"open-sesame"}`)
	page := strings.Replace(e.ts.URL, "http://", "https://", 1) + "/d/acme/beta"

	// Unlocked through the page's form, as a browser does.
	resp, _ := postForm(t, viaProxy(page), url.Values{"password": {"open-sesame"}})
	if len(resp.Cookies()) == 0 {
		t.Fatalf("no unlock cookie: %d", resp.StatusCode)
	}
	_, body := get(t, viaProxy(page), overHTTPS(iPhoneUA), resp.Cookies()...)
	m := regexp.MustCompile(`id="register" href="([^"]+)"`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no Register: %s", body)
	}
	href := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.Contains(href, "sig=") {
		t.Fatalf("a protected page's registration link is not signed: %s", href)
	}
	// Without the signature: refused.
	unsigned, _, _ := strings.Cut(href, "?")
	resp, body = do(t, "GET", viaProxy(unsigned), nil)
	wantCode(t, resp, body, 403)
	resp, body = do(t, "GET", viaProxy(href), overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	var p struct {
		PayloadContent struct{ URL, Challenge string }
	}
	if _, err := plist.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	resp, body = postAnswer(t, p.PayloadContent.URL, answer(t, pkgtest.ProfileDevice, p.PayloadContent.Challenge))
	wantCode(t, resp, body, http.StatusMovedPermanently)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, page+"/device/"+pkgtest.ProfileDevice+"?") {
		t.Fatalf("Location %q", loc)
	}
	resp, body = do(t, "GET", viaProxy(loc), nil)
	wantCode(t, resp, body, 200)
	if !strings.Contains(string(body), "Will install") {
		t.Fatalf("device page: %s", body)
	}
	var devs []struct{ SourceKind, SourceID string }
	e.mustReq(200, "GET", "/api/v1/workspace/acme/device", admin, "", &devs)
	if len(devs) != 1 || devs[0].SourceKind != "distribution" || devs[0].SourceID != d.ID {
		t.Fatalf("devices: %+v", devs)
	}
}

// Registrations from one address are limited: 30 at once, then one every
// 10 s.
func TestDeviceRegistrationRateLimited(t *testing.T) {
	e := newProxiedEnv(t)
	_, link := ipaLink(e)
	en := fetchEnrollment(t, e, link.InstallURL)
	for i := range 30 {
		if resp, body := postAnswer(t, en.URL, []byte("garbage")); resp.StatusCode != 400 {
			t.Fatalf("answer %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := postAnswer(t, en.URL, answer(t, pkgtest.ProfileDevice, en.Challenge))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("31st: %d %s", resp.StatusCode, body)
	}
	e.advance(10e9)
	resp, body = postAnswer(t, en.URL, answer(t, pkgtest.ProfileDevice, en.Challenge))
	wantCode(t, resp, body, http.StatusMovedPermanently)
}

// A profile's UDID list is kept for the device pages and left out of
// every build answer (it would be hundreds of UDIDs in each build of a
// list), as the README says.
func TestBuildAnswersLeaveProfileDevicesOut(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "App.ipa", demoIPA()})
	stored := e.waitProcessed(b.BuildID)
	if has, known := stored.Profile.HasDevice(pkgtest.ProfileDevice); !has || !known {
		t.Fatalf("the stored profile lacks its devices: %+v", stored.Profile)
	}
	for path, count := range map[string]string{
		projPath + "/build/" + b.BuildID:                      `"devices":3`,
		projPath + "/build":                                   `"devices":3`,
		"/v1/organizations/acme/apps/app/builds/" + b.BuildID: `"ProvisionedDevicesCount":3`,
	} {
		code, body := e.req("GET", path, admin, "")
		if code != 200 || !strings.Contains(string(body), count) || strings.Contains(string(body), pkgtest.ProfileDevice) {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
}

// Nothing Hangar serves may be sniffed as another type: manifests, QR
// images and configuration profiles carry nosniff like pages and
// downloads.
func TestNosniffOnEveryKind(t *testing.T) {
	e := newProxiedEnv(t)
	_, link := ipaLink(e)
	page := e.ts.URL + "/p/" + link.PublicLinkID
	for _, u := range []string{page + "/qr", page + "/manifest.plist", page + "/enroll",
		e.ts.URL + "/api/v1/public/file/" + link.PublicLinkID + "/qr", e.ts.URL + "/healthz", e.ts.URL + "/nowhere"} {
		resp, _ := do(t, "GET", u, overHTTPS(iPhoneUA))
		if resp.StatusCode >= 500 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, X-Content-Type-Options %q", u, resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
		}
	}
}

// A UDID registered again keeps its first registration: a later answer
// that says something else is kept apart, shown, and overwrites nothing
// (before, anyone with a link could rewrite a device's model,
// OS and serial). Registrations through one page are bounded across
// networks.
func TestDeviceReRegistration(t *testing.T) {
	e := newProxiedEnv(t)
	admin, link := ipaLink(e)
	en := fetchEnrollment(t, e, link.InstallURL)
	resp, body := postAnswer(t, en.URL, answer(t, pkgtest.ProfileDevice, en.Challenge))
	wantCode(t, resp, body, http.StatusMovedPermanently)

	forged, err := plist.Marshal(map[string]string{"UDID": pkgtest.ProfileDevice, "PRODUCT": "iPad99,9", "VERSION": "0A0", "SERIAL": "FORGED", "CHALLENGE": en.Challenge}, plist.XMLFormat)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := hangartest.DeviceIdentity()
	msg, _ := hangartest.SignCMS(forged, cert, key)
	resp, body = postAnswer(t, en.URL, msg)
	wantCode(t, resp, body, http.StatusMovedPermanently)

	var devs []struct {
		UDID, Product, Version, Serial string
		Reported                       *struct{ Product, Version, Serial string }
	}
	e.mustReq(200, "GET", "/api/v1/workspace/acme/device", admin, "", &devs)
	if len(devs) != 1 || devs[0].Product != "iPhone15,2" || devs[0].Version != "21F90" || devs[0].Serial != "F2LXK0ABCD" {
		t.Fatalf("the first registration was overwritten: %+v", devs)
	}
	if r := devs[0].Reported; r == nil || r.Product != "iPad99,9" || r.Serial != "FORGED" {
		t.Fatalf("the later registration is not kept apart: %+v", devs[0].Reported)
	}

	// One page, many networks: 60 registrations (two above were the
	// first), then one every 30 s.
	codes := map[int]int{}
	for i := range 60 {
		udid := fmt.Sprintf("00008101-%016X", i+1)
		req, _ := http.NewRequest("POST", viaProxy(en.URL), bytes.NewReader(answer(t, udid, en.Challenge)))
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.0.1", i))
		resp, _ := sendNoRedirect(t, req)
		codes[resp.StatusCode]++
	}
	if codes[http.StatusMovedPermanently] != 58 || codes[http.StatusTooManyRequests] != 2 {
		t.Fatalf("60 registrations through one page from 60 networks: %v, want 58 taken and 2 refused", codes)
	}
}

// respelledEnroll is an enrolment URL whose token's payload is spelled
// otherwise: the same bytes, which a token must not accept.
func respelledEnroll(t *testing.T, u string) string {
	t.Helper()
	at := strings.LastIndexByte(u, '/') + 1
	payload, mac, _ := strings.Cut(u[at:], ".")
	other, ok := hangartest.Respell(payload)
	if !ok {
		t.Fatalf("token payload %q cannot be respelled", payload)
	}
	return u[:at] + other + "." + mac
}
