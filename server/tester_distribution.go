package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"hangar/depot"
	"hangar/store"
)

// A distribution's tester page (/d/{workspace}/{slug}): the newest
// processed build its filter matches, earlier ones if it shows history,
// behind its security mode. Downloads go through
// /d/{workspace}/{slug}/f/{file}/{name}, counted and logged under the
// distribution's ID.

// historyLen is how many earlier builds a page with history lists.
const historyLen = 10

// distSite is a distribution's tester site.
func distSite(base string, ws store.Workspace, d store.Distribution) testerSite {
	page := "/d/" + ws.Slug + "/" + d.Slug
	var audience string
	if d.Security == store.SecurityMembers || d.Security == store.SecurityTesters {
		audience = d.Security
	}
	return testerSite{audience: audience, groups: d.Groups, id: d.ID, base: base, page: page, hash: d.PasswordHash, protected: d.Security != store.SecurityPublic,
		guard:     d.Security + ":" + strconv.FormatUint(d.Generation, 10) + ":" + d.PasswordHash,
		workspace: ws.ID,
		download:  func(f store.File) string { return page + "/f/" + f.ID + "/" + f.Name },
		install:   func(f store.File) string { return page + "/i/" + f.ID + "/" + f.Name },
		manifest:  func(f store.File) string { return page + "/m/" + f.ID + "/manifest.plist" },
	}
}

var (
	errDistNotFound = errNotFound("distribution")
	errTesterSignIn = &apiError{http.StatusForbidden, "SIGN_IN_REQUIRED", orgForbidden, "this page is for its testers: open it in a browser and sign in"}
)

// distribution resolves the distribution the path names.
func (s *Server) distribution(c *call) (store.Workspace, store.Distribution, error) {
	ws, err := s.workspaceOf(c.params)
	if err != nil {
		return ws, store.Distribution{}, errDistNotFound
	}
	d, err := s.store.DistributionBySlug(ws.ID, c.params.ByName("slug"))
	if err == nil && d.Inactive() {
		err = store.ErrNotFound
	}
	if err != nil {
		return ws, d, notFoundAs(err, "distribution")
	}
	c.ws = ws
	return ws, d, nil
}

// noDistPage is the page of a distribution that does not exist, and of a
// members-only one to anyone but its members: the same page, so that
// nobody can tell a team's private pages from names that were never used.
// A member signs in from it and comes back.
func (s *Server) noDistPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderTester(w, r, testerView{Status: http.StatusNotFound, Title: "Page not available",
		Message: "There is no such page, it was removed, or it is for the team's members.",
		SignIn:  "/signin?next=" + url.QueryEscape(r.URL.Path)})
}

// distPage renders a distribution's page (GET) or takes its password
// form (POST).
func (s *Server) distPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ws, d, err := s.distribution(c)
	if err != nil {
		return s.noDistPage(w, r)
	}
	t := distSite(c.base, ws, d)
	var wrong, tester string
	switch d.Security {
	case store.SecurityMembers:
		if t.member, _ = s.reader(r, c, t); t.member == "" {
			return s.noDistPage(w, r)
		}
	case store.SecurityTesters:
		if t.member, tester = s.reader(r, c, t); t.member == "" {
			return s.signInForm(w, r, t, http.StatusOK, testerSignInView{})
		}
		if !strings.HasPrefix(t.member, testerMember) {
			tester = "" // a member signs out in the console
		}
	case store.SecurityPassword:
		if r.Method == http.MethodPost {
			var done bool
			if wrong, done, err = s.unlockForm(w, r, t); done || err != nil {
				return err
			}
		}
		if !s.unlocked(r, d.ID, d.PasswordHash) {
			return s.renderTester(w, r, testerView{Status: statusIf(wrong != "", http.StatusUnauthorized), Locked: true, Action: t.page, Wrong: wrong})
		}
	}
	if r.Method == http.MethodPost {
		http.Redirect(w, r, t.page, http.StatusSeeOther)
		return nil
	}
	builds, err := s.shownBuilds(d)
	if err != nil {
		return err
	}
	p := platformOf(r.UserAgent())
	v := testerView{Heading: d.Name, QRURL: t.url(t.page + "/qr"), PageURL: t.url(t.page), Platform: p, DevInfo: d.ShowDevInfo, Tester: tester}
	reporter := t.member
	if reporter == "" {
		reporter, _ = s.reader(r, c, t) // a member on a public or password page
	}
	for _, bf := range builds {
		f, ok := depot.FileOfType(bf.Files, store.FilePackage)
		if !ok {
			continue
		}
		if v.Build == nil {
			v.Build = s.testerBuild(t, bf.Build, f, bf.Files, p, isHTTPS(c.base))
			continue
		}
		h := historyItem{
			Version:  orText(versionLine(bf.Build.VersionName, bf.Build.VersionCode), f.Name),
			Uploaded: f.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC"),
			URL:      t.url(t.download(f)),
			Notes:    bf.Build.Notes,
		}
		if older := s.testerBuild(t, bf.Build, f, bf.Files, p, isHTTPS(c.base)); older.Primary != nil && older.Primary.ID == "install" {
			h.Install = older.Primary.URL
		}
		v.History = append(v.History, h)
	}
	if v.Build != nil && reporter != "" {
		v.Feedback = &feedbackForm{Action: t.page + "/feedback", Token: s.feedbackToken(c, reporter), BuildID: builds[0].Build.ID,
			Sent: r.URL.Query().Get("feedback") == "sent", Max: store.MaxFeedbackScreenshots}
	}
	if v.Build == nil {
		v.Title, v.Message = "No build yet", "There is no build here yet. Come back once one has been uploaded and processed."
	}
	return s.renderTester(w, r, v)
}

// distQR is the QR code of a distribution's page. A protected page's is
// for its members (the console shows it) and, for a password page, whoever
// unlocked it; anyone else gets the 404 of a page that does not exist.
func (s *Server) distQR(w http.ResponseWriter, r *http.Request, c *call) error {
	ws, d, err := s.distribution(c)
	if err != nil {
		return err
	}
	t := distSite(c.base, ws, d)
	if d.Security != store.SecurityPublic && !(d.Security == store.SecurityPassword && s.unlocked(r, d.ID, d.PasswordHash)) {
		if m, _ := s.reader(r, c, t); m == "" {
			return errDistNotFound
		}
	}
	return s.serveQR(w, r, t.url(t.page))
}

// shownBuilds are the builds a distribution's page shows: the newest its
// filter matches, and the earlier ones of its history when it shows one.
func (s *Server) shownBuilds(d store.Distribution) ([]store.BuildFiles, error) {
	limit := 1
	if d.ShowHistory {
		limit += historyLen
	}
	builds, _, _, err := s.store.SearchBuilds(d.ProjectID, d.Query(), "", limit)
	return builds, err
}

// distFile resolves the file the path names if the page offers it: the
// package of a build it shows, or the APK attached beside such a build's
// AAB. Attachments, and builds the page does not list, are not served
// through it.
func (s *Server) distFile(c *call, d store.Distribution) (store.File, store.Build, error) {
	id := c.params.ByName("fileId")
	builds, err := s.shownBuilds(d)
	if err != nil {
		return store.File{}, store.Build{}, err
	}
	for _, bf := range builds {
		pkg, ok := depot.FileOfType(bf.Files, store.FilePackage)
		if !ok {
			continue
		}
		if pkg.ID == id {
			return pkg, bf.Build, nil
		}
		if apk, ok := attachedAPK(bf.Files); ok && apk.ID == id && strings.EqualFold(pkg.Extension, "aab") {
			return apk, bf.Build, nil
		}
	}
	return store.File{}, store.Build{}, errNotFound("file")
}

// distPass checks a download's or manifest's right to a protected
// distribution: a signed URL (what the page gives an iPhone's installer),
// or as for the page itself, a member's or tester's session, or the password (its
// unlock cookie, or HTTP Basic auth for an API client).
//
// It returns who the request is for (see testerSite: "" when the page
// does not know) and nil to let the request go on; errAnswered when it
// sent a browser to the page's form; or the refusal.
func (s *Server) distPass(w http.ResponseWriter, r *http.Request, c *call, ws store.Workspace, d store.Distribution) (string, error) {
	var err error
	t := distSite(c.base, ws, d)
	switch d.Security {
	case store.SecurityPublic:
		m, _ := s.reader(r, c, t) // a member's download is theirs
		return m, nil
	case store.SecurityMembers, store.SecurityTesters:
		if s.verifySigned(r, &t) {
			return t.member, nil
		}
		if m, _ := s.reader(r, c, t); m != "" {
			return m, nil
		}
		if t.hidden() {
			return "", errDistNotFound // as if there were no such page
		}
		err = errTesterSignIn
	case store.SecurityPassword:
		err = s.passOf(r, t)
	}
	if err == nil {
		return "", nil
	}
	if err == errTesterSignIn && wantsHTML(r) {
		http.Redirect(w, r, t.page, http.StatusSeeOther)
		return "", errAnswered
	}
	if ae, _ := toAPIError(err); ae.Status == http.StatusUnauthorized {
		if wantsHTML(r) {
			http.Redirect(w, r, "/d/"+c.params.ByName("ws")+"/"+d.Slug, http.StatusSeeOther)
			return "", errAnswered
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Hangar distribution", charset="UTF-8"`)
	}
	return "", err
}

// distDownload is a counted download through a distribution: checked as
// its page is, counted and logged with its install record, then a 302 to
// a signed URL valid for a minute. HEAD is not counted (see headFile).
func (s *Server) distDownload(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.distTake(w, r, c, store.InstallKindDownload)
}

// distInstall is distDownload for the package URL of an OTA manifest: what
// iOS's installer fetches once the tester confirms the install.
func (s *Server) distInstall(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.distTake(w, r, c, store.InstallKindInstall)
}

func (s *Server) distTake(w http.ResponseWriter, r *http.Request, c *call, kind string) error {
	ws, d, err := s.distribution(c)
	if err != nil {
		return err
	}
	member, err := s.distPass(w, r, c, ws, d)
	if err != nil {
		return err
	}
	f, b, err := s.distFile(c, d)
	if err == nil && f.Name != c.params.ByName("fileName") {
		err = errNotFound("file")
	}
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		headFile(w, f)
		return nil
	}
	e := s.accessEntry(r)
	e.Install = s.installOf(e, member, kind)
	e.Install.WorkspaceID, e.Install.BuildID, e.Install.FileID, e.Install.DistributionID = ws.ID, b.ID, f.ID, d.ID
	if _, err := s.store.UseDistribution(d.ID, e); err != nil {
		return notFoundAs(err, "distribution")
	}
	redirectToFile(w, s.signedURLFor(c.base, f.ID, f.Name, redirectURLTTL))
	return nil
}

// distManifest serves the OTA manifest of an IPA the distribution shows.
func (s *Server) distManifest(w http.ResponseWriter, r *http.Request, c *call) error {
	ws, d, err := s.distribution(c)
	if err != nil {
		return err
	}
	t := distSite(c.base, ws, d)
	if t.protected && !s.verifySigned(r, &t) {
		// Open the page again for a fresh one; a members-only page's
		// answer is the unknown page's.
		err := errForbidden("the manifest URL is invalid or has expired: open the page again")
		if t.hidden() {
			err = errDistNotFound
		}
		return err
	}
	f, b, err := s.distFile(c, d)
	if err == nil && (f.Type != store.FilePackage || f.Extension != "ipa") {
		err = errNotFound("manifest")
	}
	if err != nil {
		return err
	}
	return s.writeManifest(w, r, t, b, f)
}
