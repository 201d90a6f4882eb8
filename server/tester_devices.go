package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"howett.net/plist"

	"hangar/auth"
	"hangar/cms"
	"hangar/depot"
	"hangar/store"
)

// Device registration: an iPhone tester page offers "Register this
// device", a configuration profile with a Profile Service payload
// ({page}/enroll). iOS asks to install it, then posts its UDID, model, OS
// build and serial, signed (CMS) with the device's identity, to the URL in
// the profile (/enroll/{token}); Hangar records the device in the page's
// workspace and answers with a redirect to a page that says, for each iOS
// build on the tester page, whether its provisioning profile lists this
// device ({page}/device/{udid}, signed).
//
// The token names the page and expires; it is also the profile's
// challenge, which the signed answer must carry back. The signature is
// checked against the certificate the answer carries: it proves the
// answer was not altered, not that the signer is a real Apple device
// (a tester could register any UDID, as they could by sending it to the
// team by mail).

// enrollTTL is how long a registration profile can be used.
const enrollTTL = time.Hour

// deviceTTL is how long the device page's signed URL works: iOS opens it
// right after registering.
const deviceTTL = time.Hour

// enrollPerIP bounds registrations from one network: an office of testers
// behind one NAT registers at once (30), then one every 10 s; a token
// holder scripting answers cannot fill the workspace's list quickly.
// enrollPerPage bounds them per tester page across networks (60, then one
// every 30 s: a page's testers register over days, and one link holder
// with many addresses would need days, not minutes, to reach MaxDevices).
var (
	enrollPerIP   = auth.Limiter{Burst: 30, Every: 10 * time.Second}
	enrollPerPage = auth.Limiter{Burst: 60, Every: 30 * time.Second}
)

var udidPattern = regexp.MustCompile(`^([0-9a-fA-F]{40}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{16})$`)

// enrollToken names a tester page (a link: "l~ID"; a distribution:
// "d~WS~SLUG"), the member it was shown to ("" but on a members-only
// page) and the page's protection (a digest of its guard) until exp, with
// an HMAC: a change of the page's protection, or the member's removal,
// ends it as it ends the page's other signed URLs.
func (s *Server) enrollToken(src deviceSource, exp time.Time) string {
	body := src.ref + "~" + src.site.member + "~" + guardDigest(src.site) + "~" + strconv.FormatInt(exp.Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + s.enrollMAC(body)
}

// guardDigest is a short, non-reversible form of a page's protection,
// for a token that carries it in the clear.
func guardDigest(t testerSite) string {
	sum := sha256.Sum256([]byte(t.guard))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func (s *Server) enrollMAC(body string) string {
	m := hmac.New(sha256.New, s.enrollKey)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errEnrollToken = errBadRequest("this registration profile is invalid or has expired: open the page and register again")

// parseEnrollToken returns the page parts a token names.
func (s *Server) parseEnrollToken(tok string) ([]string, error) {
	enc, mac, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 512 {
		return nil, errEnrollToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc) // one spelling per token
	if err != nil || subtle.ConstantTimeCompare([]byte(s.enrollMAC(string(raw))), []byte(mac)) != 1 {
		return nil, errEnrollToken
	}
	parts := strings.Split(string(raw), "~")
	exp, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if err != nil || s.now().Unix() > exp {
		return nil, errEnrollToken
	}
	return parts[:len(parts)-1], nil
}

// deviceSource is a tester page a device can register from: where it is,
// its workspace, and the iOS builds it offers.
type deviceSource struct {
	site      testerSite
	kind, id  string // "link" or "distribution", and its ID
	ref       string // what an enroll token names
	workspace string
	builds    []store.BuildFiles
}

// linkSource resolves a link's page.
func (s *Server) linkSource(base, id string) (deviceSource, error) {
	l, f, b, err := s.linkContext(id)
	if err != nil && !errors.Is(err, store.ErrLimitReached) {
		return deviceSource{}, linkErr(err)
	}
	p, err := s.store.Project(b.ProjectID)
	if err != nil {
		return deviceSource{}, err
	}
	return deviceSource{site: linkSite(base, l), kind: "link", id: l.ID, ref: "l~" + l.ID, workspace: p.WorkspaceID,
		builds: []store.BuildFiles{{Build: b, Files: []store.File{f}}}}, nil
}

// distSource resolves a distribution's page, with the builds it shows.
func (s *Server) distSource(c *call) (deviceSource, error) {
	ws, d, err := s.distribution(c)
	if err != nil {
		return deviceSource{}, err
	}
	builds, err := s.shownBuilds(d)
	if err != nil {
		return deviceSource{}, err
	}
	return deviceSource{site: distSite(c.base, ws, d), kind: "distribution", id: d.ID, ref: "d~" + ws.Slug + "~" + d.Slug,
		workspace: ws.ID, builds: builds}, nil
}

// source resolves the page a request's path names.
func (s *Server) source(c *call) (deviceSource, error) {
	if id := c.params.ByName("publicLinkId"); id != "" {
		return s.linkSource(c.base, id)
	}
	return s.distSource(c)
}

// enrollProfile serves the registration profile of a tester page. A
// protected page's link to it is signed, as its manifests are.
func (s *Server) enrollProfile(w http.ResponseWriter, r *http.Request, c *call) error {
	src, err := s.source(c)
	if err != nil {
		return err
	}
	if src.site.protected && !s.verifySigned(r, &src.site) {
		err := errForbidden("the registration link is invalid or has expired: open the page again")
		if src.site.hidden() {
			err = errDistNotFound // a members-only page answers as an unknown one
		}
		return err
	}
	tok := s.enrollToken(src, s.now().Add(enrollTTL))
	sum := sha256.Sum256([]byte(src.ref))
	profile := map[string]any{
		"PayloadType":         "Profile Service",
		"PayloadVersion":      1,
		"PayloadIdentifier":   "hangar.enroll." + fmt.Sprintf("%x", sum[:8]),
		"PayloadUUID":         uuidOf(sum[:16]),
		"PayloadDisplayName":  "Register this device with Hangar",
		"PayloadDescription":  "Sends this device's identifier (UDID), model, iOS build and serial number to the team's Hangar server, so that they can add it to their test builds. Nothing is installed.",
		"PayloadOrganization": "Hangar",
		"PayloadContent": map[string]any{
			"URL":              src.site.url("/enroll/" + tok),
			"DeviceAttributes": []string{"UDID", "PRODUCT", "VERSION", "SERIAL"},
			"Challenge":        tok,
		},
	}
	return s.writeProfile(w, r, "register-device.mobileconfig", profile)
}

// deviceAnswer is the property list iOS signs and posts.
type deviceAnswer struct {
	UDID, PRODUCT, VERSION, SERIAL, CHALLENGE string
}

// enrollDevice takes a device's signed answer: it must verify, carry the
// challenge of a live token, and name a well-formed UDID. Anything else
// is a 400 and records nothing.
func (s *Server) enrollDevice(w http.ResponseWriter, r *http.Request, c *call) error {
	tok := c.params.ByName("token")
	parts, err := s.parseEnrollToken(tok)
	if err != nil {
		return err
	}
	if ok, wait := s.enrollPerIP.Allow(clientKey(s.clientIP(r)), s.now()); !ok {
		return tooMany(wait, "too many device registrations from this address; retry later")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cms.MaxBytes))
	if err != nil {
		return errBadRequest(fmt.Sprintf("the device's answer is larger than %d bytes", cms.MaxBytes))
	}
	content, _, err := cms.Verify(body)
	if err != nil {
		return errBadRequest("not a signed device answer: " + err.Error())
	}
	var a deviceAnswer
	if _, err := plist.Unmarshal(content, &a); err != nil {
		return errBadRequest("the device's answer is not a property list")
	}
	if subtle.ConstantTimeCompare([]byte(a.CHALLENGE), []byte(tok)) != 1 {
		return errBadRequest("the device's answer does not carry this registration's challenge")
	}
	if !udidPattern.MatchString(a.UDID) {
		return errBadRequest("the device's answer has no valid UDID")
	}
	var src deviceSource
	n := len(parts)
	switch {
	case n == 4 && parts[0] == "l":
		src, err = s.linkSource(c.base, parts[1])
	case n == 5 && parts[0] == "d":
		c.params = append(c.params, httprouter.Param{Key: "ws", Value: parts[1]}, httprouter.Param{Key: "slug", Value: parts[2]})
		src, err = s.distSource(c)
	default:
		err = errEnrollToken
	}
	if err == nil {
		// The page's protection must be what it was when the profile was
		// given out, and its member still one.
		src.site.member = parts[n-2]
		if guardDigest(src.site) != parts[n-1] || !s.mayOpen(src.site, src.site.member) {
			err = errEnrollToken
		}
	}
	if err != nil {
		return err
	}
	if ok, wait := s.enrollPerPage.Allow(src.id, s.now()); !ok {
		return tooMany(wait, "too many device registrations through this page; retry later")
	}
	d, err := s.store.RegisterDevice(store.Device{UDID: a.UDID, WorkspaceID: src.workspace, Product: cut(a.PRODUCT, 64),
		Version: cut(a.VERSION, 64), Serial: cut(a.SERIAL, 64), SourceKind: src.kind, SourceID: src.id})
	if err != nil {
		return err
	}
	s.log.Info("device registered", "workspace", src.workspace, src.kind, src.id, "product", d.Product)
	// iOS opens the Location of a 301 answer in Safari.
	http.Redirect(w, r, s.deviceURL(src.site, d.UDID), http.StatusMovedPermanently)
	return nil
}

// deviceURL is the signed address of a device's page under a tester page,
// bound to the page's protection as the page's own URLs are.
func (s *Server) deviceURL(t testerSite, udid string) string {
	t.protected = true // a public page's device pages are signed too
	return s.signedFor(t, t.page+"/device/"+udid, s.now().Add(deviceTTL))
}

// deviceView is the device page.
type deviceView struct {
	UDID, Product, Version string
	PageURL                string
	Builds                 []deviceBuild
}

type deviceBuild struct {
	App, Version, Verdict string
	OK                    bool
}

// devicePage tells a registered device, for each iOS build of the tester
// page, whether the build's profile lets it install.
func (s *Server) devicePage(w http.ResponseWriter, r *http.Request, c *call) error {
	// An unknown page answers as a bad signature does: the address says
	// nothing about which pages exist.
	src, err := s.source(c)
	if err != nil || !s.verifySigned(r, &src.site) {
		return errForbidden("this address is invalid or has expired: register the device again from the page")
	}
	udid := strings.ToUpper(c.params.ByName("udid"))
	v := deviceView{UDID: udid, PageURL: src.site.url(src.site.page)}
	if devs, err := s.store.Devices(src.workspace); err == nil {
		for _, d := range devs {
			if d.UDID == udid {
				v.Product, v.Version = d.Product, d.Version
			}
		}
	}
	for _, bf := range src.builds {
		f, ok := depot.FileOfType(bf.Files, store.FilePackage)
		if !ok || !strings.EqualFold(f.Extension, "ipa") {
			continue
		}
		b := bf.Build
		db := deviceBuild{App: orText(b.AppName, f.Name), Version: versionLine(b.VersionName, b.VersionCode)}
		db.Verdict, db.OK = verdict(b, udid)
		v.Builds = append(v.Builds, db)
	}
	return s.renderPublic(w, r, devicePage, v, http.StatusOK, "form-action 'none'")
}

// verdict says whether build b installs on the device udid.
func verdict(b store.Build, udid string) (string, bool) {
	p := b.Profile
	switch {
	case b.Status != store.BuildProcessed || p == nil:
		return "Not known yet: the build has not been processed.", false
	case p.Type == "enterprise":
		return "Enterprise profile: installs on any device (this check does not apply).", true
	case p.Type == "app-store":
		return "App Store profile: it cannot be installed from here on any device.", false
	}
	has, known := p.HasDevice(udid)
	switch {
	case !known:
		return "Not known: this build was processed before Hangar kept profiles' device lists; upload it again to check.", false
	case has:
		return "Will install: this device is in the build's provisioning profile.", true
	}
	return "Not in this build's profile: send this UDID to the team, who can add it and make a new build.", false
}
