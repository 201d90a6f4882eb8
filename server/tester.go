package server

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/xml"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"hangar/auth"
	"hangar/depot"
	"hangar/store"
)

// Tester pages: what a public link's page (/p/{link}) and a distribution's
// page (/d/{workspace}/{slug}) show a tester, and the install flow that
// fits the device the page was opened on. Both render one template from a
// testerView; they differ in where their downloads go and how they are
// protected (a testerSite). Everything is embedded: no script, no
// external asset.

//go:embed templates/tester.html templates/page_style.html templates/trust.html templates/device.html templates/manifest.plist
var templates embed.FS

var (
	testerPage   = template.Must(template.ParseFS(templates, "templates/tester.html", "templates/page_style.html"))
	trustPage    = template.Must(template.ParseFS(templates, "templates/trust.html", "templates/page_style.html"))
	devicePage   = template.Must(template.ParseFS(templates, "templates/device.html", "templates/page_style.html"))
	manifestTmpl = texttemplate.Must(texttemplate.New("manifest.plist").Funcs(texttemplate.FuncMap{
		"xml": func(s string) string {
			var b strings.Builder
			xml.EscapeText(&b, []byte(s))
			return b.String()
		},
	}).ParseFS(templates, "templates/manifest.plist"))
)

// testerSite is where a tester page's links go, and how it is protected.
type testerSite struct {
	id   string // the link's or distribution's ID: its unlock cookie, rate limit and access log
	base string // the base of absolute URLs (see baseURL)
	page string // the page's own path, which its QR code encodes
	// hash is the password hash of a password-protected page.
	hash string
	// protected: the page is not public (password or members), so what an
	// iPhone's installer fetches without the browser's cookies (the
	// manifest, the package, the registration profile) carries a
	// signature instead.
	protected bool
	// guard is the page's protection as it stands (security mode,
	// generation, password hash). Every URL signed for the page covers
	// it, so a change of protection ends all of them at once.
	guard string
	// audience: a page for named people (store.SecurityMembers,
	// store.SecurityTesters; "" for anyone with the URL or password). Its
	// signed URLs name the person the page was shown to (member: a user
	// ID, or "t." and a tester session's ID) and work only while they may
	// still open the page (mayOpen). groups are a testers page's.
	audience          string
	groups            []string
	member, workspace string
	// download is the path of a counted download of file f (decoded, as
	// signatures cover it); manifest the path of f's OTA manifest; install
	// (nil: download) the one the manifest names, counted as an install.
	download, manifest, install func(f store.File) string
}

// url makes a decoded path absolute, escaping each segment.
func (t testerSite) url(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return t.base + strings.Join(segs, "/")
}

// installPath is the path a manifest names for f's package.
func (t testerSite) installPath(f store.File) string {
	if t.install != nil {
		return t.install(f)
	}
	return t.download(f)
}

// boundPath is what a protected page's URL signature covers besides
// method and expiry: the path, the page's protection and the member.
func (t testerSite) boundPath(path string) string {
	return path + "\x00" + t.guard + "\x00" + t.member
}

// signedFor is the absolute URL of path, signed until exp when the page
// is protected (see boundPath).
func (s *Server) signedFor(t testerSite, path string, exp time.Time) string {
	u := t.url(path)
	if t.protected {
		u += "?" + s.keys.Sign(http.MethodGet, t.boundPath(path), exp)
		if t.member != "" {
			u += "&m=" + url.QueryEscape(t.member)
		}
	}
	return u
}

// verifySigned checks a URL that protected page t issued: signed for
// this path under the page's protection as it is now, unexpired, and on a
// page for named people naming one who may still open it. On success t
// names them, so that what the answer signs in turn (a manifest's package
// URL) stays bound to them.
func (s *Server) verifySigned(r *http.Request, t *testerSite) bool {
	member := ""
	if t.audience != "" {
		member = r.URL.Query().Get("m")
		if member == "" {
			return false
		}
	}
	bound := *t
	bound.member = member
	if s.keys.Verify(r.Method, bound.boundPath(r.URL.Path), r.URL.RawQuery, s.now()) != nil {
		return false
	}
	if !s.mayOpen(*t, member) {
		return false
	}
	t.member = member
	return true
}

// hidden says whether a page answers those it refuses as if it did not
// exist: a members-only page does (see noDistPage); a testers page shows
// its sign-in form.
func (t testerSite) hidden() bool { return t.audience == store.SecurityMembers }

// mayOpen says whether member (see testerSite) may open page t now.
func (s *Server) mayOpen(t testerSite, member string) bool {
	switch t.audience {
	case "":
		return true
	case store.SecurityMembers:
		return s.mayDownloadIn(member, t.workspace)
	case store.SecurityTesters:
		if id, ok := strings.CutPrefix(member, testerMember); ok {
			sess, err := s.store.TesterSession(id)
			return err == nil && s.store.TesterMayOpen(sess, t.workspace, t.groups)
		}
		u, err := s.store.User(member)
		return err == nil && !u.Disabled && (s.mayDownloadIn(member, t.workspace) || s.store.InTesterGroups(u.Email, t.workspace, t.groups))
	}
	return false
}

// mayDownloadIn reports whether user userID may download builds in
// workspace wsID now: an instance admin, or a member whose role allows it,
// and not disabled.
func (s *Server) mayDownloadIn(userID, wsID string) bool {
	u, err := s.store.User(userID)
	if err != nil || u.Disabled {
		return false
	}
	perms, _ := auth.RolePermissions(u.Memberships[wsID])
	return u.Admin || perms.Has(auth.BuildDownload)
}

// Lifetimes of what a protected page signs (each also ends at once when
// the page's protection changes or its member loses access; see
// boundPath): the Install and Register links on the page are followed
// when tapped, so an hour (a reload gives fresh ones); the package URL in
// a manifest is fetched as soon as the tester confirms the install.
const (
	pageURLTTL         = time.Hour
	manifestPackageTTL = 15 * time.Minute
)

// platform is the kind of device a page was opened on, from its
// User-Agent: the install flow differs for each.
type platform string

const (
	desktop platform = "desktop"
	iPhone  platform = "ios" // iPhone, iPad (in its mobile mode), iPod
	android platform = "android"
)

func platformOf(ua string) platform {
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return iPhone
	case strings.Contains(ua, "Android"):
		return android
	}
	// iPadOS Safari asks for desktop sites with a Mac's User-Agent; it
	// gets the desktop flow (QR and Download), which works there.
	return desktop
}

// testerView is what the template shows.
type testerView struct {
	Status         int
	Heading        string // a distribution's name, above its build
	Title, Message string // a page that cannot be shown, or a distribution with no build yet
	SignIn         string // where a team member signs in to see a page that may be theirs
	Locked         bool   // the password form instead of the page
	Wrong          string // why the last password was refused
	Action         string // where the form posts
	Build          *testerBuild
	History        []historyItem
	QRURL, PageURL string
	Platform       platform
	Remaining      string // a link's downloads left
	Expires        string // a link's expiry
	DevInfo        bool   // show identifier, profile, minimum OS
	// TesterSignIn is a testers page's sign-in form instead of the page;
	// Confirm a sign-in link's button.
	TesterSignIn *testerSignInView
	Confirm      *testerConfirm
	Unsubscribe  *unsubscribeView
	// Feedback is the form that reports a problem with the build shown,
	// for a visitor the page knows.
	Feedback *feedbackForm
	// Apps is the page of my apps (AppsOf: whose).
	Apps   []appItem
	AppsOf string
	// Tester is who a page for testers was opened as (a tester's own
	// address, or a member's name), with a way to sign out.
	Tester string
}

// feedbackForm is a page's report form.
type feedbackForm struct {
	Action, Token, BuildID string
	Sent                   bool // a report was just sent
	Max                    int  // screenshots
}

// testerConfirm is the button that spends a sign-in link.
type testerConfirm struct{ Action string }

type testerBuild struct {
	App, Initial, IconURL, Version string
	FileName, Size, Uploaded       string
	Notes, BundleID, Requires      string
	Branch, Commit, GitTag         string // what CI said it built
	Profile                        string // "Ad hoc, 3 devices, expires 1 Mar 2027"
	ProfileProblem                 string // why the profile keeps the app from installing or opening
	State                          string // why details are missing: processing, or unreadable
	Primary                        *action
	Secondary                      []action
	Notice                         string // why there is no Install or download for this device
	HTTPSHelp                      bool   // the notice is about plain HTTP: link to the trust page
	TrustHint                      bool   // Install over the local CA's HTTPS: link to the trust page for first-timers
	TrustURL                       string
	Hint                           string // a tip for the primary action
	Mandatory                      bool   // the team asks everyone to install it
	Label                          string // the upload's version, when it is not the package's
}

type action struct {
	ID, Label string
	URL       template.URL // itms-services: is not a scheme html/template lets through otherwise
}

type historyItem struct {
	Version, Uploaded, Notes string
	URL                      string
	// Install is an earlier IPA's install on an iPhone over HTTPS (the
	// same flow as the newest build's).
	Install template.URL
}

// versionLine reads as people write versions: no placeholder for a
// missing one, no build number that repeats the version.
func versionLine(name, code string) string {
	switch {
	case name == "" && code == "":
		return ""
	case name == "":
		return "Build " + code
	case code == "" || code == name:
		return "Version " + name
	}
	return "Version " + name + " (" + code + ")"
}

// appTitle names an app: its label, else its bundle id, else the file.
func appTitle(b store.Build, f store.File) string {
	switch {
	case b.AppName != "":
		return b.AppName
	case b.BundleID != "":
		return b.BundleID
	}
	return f.Name
}

// testerBuild describes build b for a device p, offering file f (a link's
// file, a distribution's build package) and, for an AAB, an attached APK.
func (s *Server) testerBuild(t testerSite, b store.Build, f store.File, files []store.File, p platform, https bool) *testerBuild {
	v := &testerBuild{
		App:       appTitle(b, f),
		Version:   versionLine(orText(b.PackageVersion, b.VersionName), orText(b.PackageBuild, b.VersionCode)),
		BundleID:  b.BundleID,
		FileName:  f.Name,
		Size:      humanSize(f.Size),
		Uploaded:  f.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC"),
		Notes:     b.Notes,
		Branch:    b.GitBranch(),
		GitTag:    b.GitTag(),
		Mandatory: b.Mandatory,
	}
	if b.Deployer != nil {
		v.Commit = b.Deployer.Info.Commit
	}
	if labelled(b) {
		v.Label = strings.TrimPrefix(versionLine(b.VersionName, b.VersionCode), "Version ")
	}
	if r, _ := utf8.DecodeRuneInString(v.App); r != utf8.RuneError {
		v.Initial = strings.ToUpper(string(r))
	}
	if icon, ok := depot.FileOfType(files, store.FileIcon); ok {
		v.IconURL = s.signedURL(t.base, icon.ID, icon.Name)
	}
	switch {
	case b.MinOS == "":
	case b.OS == "ios":
		v.Requires = "iOS " + b.MinOS + " or later"
	case b.OS == "android":
		v.Requires = "Android API level " + b.MinOS + " or later"
	}
	now := s.now()
	if pr := b.Profile; pr != nil {
		v.Profile = profileKinds[pr.Type]
		if pr.Type != "enterprise" && pr.Type != "app-store" {
			v.Profile += fmt.Sprintf(", %d device%s", pr.Devices, plural(pr.Devices))
		}
		switch {
		case pr.Type == "app-store":
			v.ProfileProblem = "This is an App Store build: it installs only through the App Store or TestFlight."
		case !pr.Created.IsZero() && now.Before(pr.Created):
			v.ProfileProblem = "This build's provisioning profile is not valid before " + pr.Created.UTC().Format("2 Jan 2006 15:04 UTC") + ": the app would not open."
		case !pr.Expires.IsZero() && !pr.Expires.After(now): // a profile without ExpirationDate is broken, not expired
			v.ProfileProblem = "This build's provisioning profile expired on " + pr.Expires.UTC().Format("2 Jan 2006") + ": the app would not open. Ask for a new build."
		}
		if !pr.Expires.IsZero() {
			v.Profile += ", expires " + pr.Expires.UTC().Format("2 Jan 2006")
		}
	}
	switch b.Status {
	case store.BuildPending, store.BuildInProgress:
		v.State = "This build is still being processed: its details will appear shortly."
	case store.BuildError:
		v.State = "Hangar could not read this package's details. The download is the file as it was uploaded."
	}

	download := action{ID: "download", Label: "Download", URL: template.URL(t.url(t.download(f)))}
	switch strings.ToLower(f.Extension) {
	case "ipa":
		download.Label = "Download .ipa"
		switch p {
		case iPhone:
			switch {
			case v.ProfileProblem != "":
				v.Notice = v.ProfileProblem
			case b.Status != store.BuildProcessed || b.BundleID == "":
				// The manifest names the bundle id, read by processing.
				v.Notice = "Install will be offered once the build is processed."
				if b.Status == store.BuildError {
					v.Notice = "This package cannot be installed over the air: Hangar could not read it."
				}
			case !https:
				v.Notice = "iPhones and iPads install apps only from an HTTPS address with a certificate they trust, and this page was opened over plain HTTP."
				v.HTTPSHelp, v.TrustURL = true, t.url("/trust")
			default:
				manifest := s.signedFor(t, t.manifest(f), now.Add(pageURLTTL))
				v.Primary = &action{ID: "install", Label: "Install", URL: template.URL("itms-services://?action=download-manifest&url=" + url.QueryEscape(manifest))}
				v.Hint = "Installs on devices in the build's provisioning profile."
				if s.localCA() != nil {
					v.TrustHint, v.TrustURL = true, t.url("/trust")
				}
			}
			v.Secondary = []action{download}
			if https {
				// Over plain HTTP iOS would not post its answer back.
				v.Secondary = append(v.Secondary, action{ID: "register", Label: "Register this device",
					URL: template.URL(s.signedFor(t, t.page+"/enroll", now.Add(pageURLTTL)))})
			}
		case android:
			v.Notice = "This build is for iPhone and iPad."
			v.Secondary = []action{download}
		default:
			v.Primary = &download
			v.Hint = "To install on an iPhone or iPad, scan the code with its camera."
		}
	case "apk":
		download.Label = "Download APK"
		v.Primary = &download
		switch p {
		case android:
			v.Hint = "If Android asks, allow installs from this browser (Settings › Apps › Special app access › Install unknown apps)."
		case iPhone:
			v.Primary, v.Secondary = nil, []action{download}
			v.Notice = "This build is for Android."
		default:
			v.Hint = "To install on an Android phone, scan the code with its camera."
		}
	case "aab":
		v.Notice = "Phones cannot install an .aab (Android App Bundle): it is for Google Play or bundletool."
		download.Label = "Download .aab"
		apk, ok := attachedAPK(files)
		if ok && p != iPhone {
			v.Primary = &action{ID: "download-apk", Label: "Download APK", URL: template.URL(t.url(t.download(apk)))}
			v.Notice += " The build has an APK attached, which installs."
			if p == android {
				v.Hint = "If Android asks, allow installs from this browser (Settings › Apps › Special app access › Install unknown apps)."
			}
		}
		v.Secondary = []action{download}
	default:
		v.Primary = &download
	}
	return v
}

// attachedAPK is the first .apk attached to a build, if any.
func attachedAPK(files []store.File) (store.File, bool) {
	for _, f := range files {
		if f.Type == store.FileAttachment && strings.EqualFold(f.Extension, "apk") {
			return f, true
		}
	}
	return store.File{}, false
}

var profileKinds = map[string]string{
	"development": "Development",
	"ad-hoc":      "Ad hoc",
	"enterprise":  "Enterprise (any device)",
	"app-store":   "App Store (not installable here)",
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// isHTTPS says whether testers reach this page over HTTPS: directly, as
// public_url says, or as a trusted proxy says (baseURL knows all three).
func isHTTPS(base string) bool { return strings.HasPrefix(base, "https://") }

// renderTester writes a tester page. No script at all, no outside
// resource, no framing; the only form posts a password to the page itself.
func (s *Server) renderTester(w http.ResponseWriter, r *http.Request, v testerView) error {
	return s.renderPublic(w, r, testerPage, v, cmp.Or(v.Status, http.StatusOK), "img-src 'self'; form-action 'self'")
}

// renderPublic writes a page of the public side (tester, trust and device
// pages): self-contained HTML, not cached, not framed, with a policy that
// allows inline style and what more says, nothing else.
func (s *Server) renderPublic(w http.ResponseWriter, r *http.Request, t *template.Template, v any, status int, more string) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "+more)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// unlockForm handles a protected page's form: a right password sets the
// unlock cookie and sends the browser back to the page (303, so a reload
// does not post again); a wrong one shows the form again with why. The
// form must come from this site (a cross-site post could make a
// tester's browser burn attempts).
func (s *Server) unlockForm(w http.ResponseWriter, r *http.Request, t testerSite) (wrong string, done bool, err error) {
	if err := s.checkForm(r, &call{}, false); err != nil {
		return "", true, s.renderTester(w, r, testerView{Status: http.StatusForbidden, Title: "Not sent from this page", Message: "Open the page and enter the password there."})
	}
	if err := r.ParseForm(); err != nil {
		return "The form could not be read.", false, nil
	}
	err = s.checkPagePassword(r.Context(), s.clientIP(r), t.id, r.PostForm.Get("password"), t.hash)
	if ae, ok := toAPIError(err); err != nil && ok && ae.Status == http.StatusTooManyRequests {
		setRetryAfter(w, err)
		return "", true, s.renderTester(w, r, testerView{Status: http.StatusTooManyRequests, Locked: true, Action: t.page, Wrong: "Too many wrong passwords: wait a minute and try again."})
	}
	if err != nil {
		return "Wrong password.", false, nil
	}
	s.setUnlocked(w, r, t.id, t.hash)
	http.Redirect(w, r, t.page, http.StatusSeeOther)
	return "", true, nil
}

// serveQR answers a tester page's QR code: a PNG of the page's own URL,
// large enough to scan from a laptop screen.
func (s *Server) serveQR(w http.ResponseWriter, r *http.Request, text string) error {
	var buf bytes.Buffer
	if err := qrPNG(&buf, text, pageQRSize); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
	return nil
}

// pageQRSize is the size of a tester page's QR image, in pixels: shown at
// 240 CSS pixels, sharp on a 2× screen.
const pageQRSize = 480

// writeManifest serves the OTA manifest of build b's package f. Its
// package URL is the page's counted download (signed when the page is
// protected, since iOS's installer sends no cookie), so an install counts
// like a download. display-image and full-size-image are the build's icon
// (iOS scales it). bundle-version is what Apple's deployment reference
// calls the app's bundle version, Info.plist's CFBundleVersion (the build
// number), falling back to the version name.
func (s *Server) writeManifest(w http.ResponseWriter, r *http.Request, t testerSite, b store.Build, f store.File) error {
	if b.Status != store.BuildProcessed || b.BundleID == "" {
		return errNotProcessed // no bundle id to name yet
	}
	files, err := s.store.Files(b.ID)
	if err != nil {
		return err
	}
	data := map[string]string{
		"URL":      s.signedFor(t, t.installPath(f), s.now().Add(manifestPackageTTL)),
		"BundleID": b.BundleID,
		"Version":  orText(b.PackageBuild, orText(b.PackageVersion, orText(b.VersionCode, orText(b.VersionName, "0")))),
		"Title":    appTitle(b, f),
	}
	if icon, ok := depot.FileOfType(files, store.FileIcon); ok {
		data["Icon"] = s.signedURLFor(t.base, icon.ID, icon.Name, time.Hour)
		data["FullIcon"] = data["Icon"] // iOS scales it
	} else {
		data["Icon"] = t.base + placeholderPath(data["Title"], 57)
		data["FullIcon"] = t.base + placeholderPath(data["Title"], 512)
	}
	var buf bytes.Buffer
	if err := manifestTmpl.Execute(&buf, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
	return nil
}

func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// humanSize renders a byte count as people read it: 52.4 MB.
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
