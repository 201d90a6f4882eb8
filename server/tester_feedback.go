package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/jpeg" // screenshots are PNG or JPEG
	_ "image/png"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"hangar/auth"
	"hangar/depot"
	"hangar/store"
)

// Feedback from a distribution's page: a tester (or member) the page
// knows reports a problem with the build it shows, in words and up to
// three screenshots. Screenshots are decoded before they are kept (an
// image, of bounded pixels), stored as files of the build of type
// "feedback", and served like every file: as attachments, nosniff. The
// team sees reports on the build's console page and in the API, gets a
// feedback.received webhook event, and mail if they asked for it.

// Bounds of a screenshot.
const (
	maxScreenshotBytes  = 5 << 20
	maxScreenshotPixels = 12_000_000 // a 4K screen; decoding takes 4 bytes a pixel
	maxScreenshotSide   = 8192
)

// Reports per person, and screenshots decoded at once.
var feedbackPerMember = auth.Limiter{Burst: 5, Every: 2 * time.Minute}

// feedbackToken is a page's feedback form token for member: the form
// posts it back, so that another site cannot post in their name. It is
// bound to the session: a member's is their console session's form token
// (csrfToken), a tester's an HMAC of their member name, which names their
// session.
func (s *Server) feedbackToken(c *call, member string) string {
	if c.who != nil && c.who.id == member {
		return s.csrfToken(c.who.token)
	}
	m := hmac.New(sha256.New, s.unlockKey)
	m.Write([]byte("feedback\n" + member))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sendFeedback takes a report: POST /d/{ws}/{slug}/feedback, multipart
// fields csrf, build (the build the page showed), text, and screenshot
// files.
func (s *Server) sendFeedback(w http.ResponseWriter, r *http.Request, c *call) error {
	ws, d, err := s.distribution(c)
	if err != nil {
		return err
	}
	t := distSite(c.base, ws, d)
	member, _ := s.reader(r, c, t)
	if member == "" {
		return errForbidden("sign in on the page to send feedback: the team needs to know who it is from")
	}
	if err := s.checkForm(r, &call{}, false); err != nil {
		return err
	}
	if ok, wait := s.feedbackPerMember.Allow(member, s.now()); !ok {
		return tooMany(wait, "too many reports at once; retry in a few minutes")
	}
	sent := false
	defer func() {
		if !sent {
			s.feedbackPerMember.Refund(member) // a refused report costs nothing
		}
	}()
	builds, err := s.shownBuilds(d)
	if err != nil {
		return err
	}
	var (
		token, buildID, text string
		stored               []store.File
		build                store.Build
	)
	undo := func() { s.depot.DeleteFiles(stored) }
	onField := func(name, value string) error {
		switch name {
		case "csrf":
			token = value
		case "build":
			buildID = value
		case "text":
			text = strings.TrimSpace(value)
		}
		return nil
	}
	onFile := func(name string, body io.Reader) error {
		switch {
		case !hmac.Equal([]byte(token), []byte(s.feedbackToken(c, member))):
			return errFormToken
		case len(stored) == store.MaxFeedbackScreenshots:
			return errBadRequest(fmt.Sprintf("at most %d screenshots", store.MaxFeedbackScreenshots))
		}
		if build.ID == "" {
			if build, err = shownBuild(builds, buildID); err != nil {
				return err
			}
		}
		img, ext, err := readScreenshot(body)
		if err != nil {
			return err
		}
		f, err := s.storeDeclared(depot.NewFile{BuildID: build.ID, Type: store.FileFeedback, Name: fmt.Sprintf("feedback-%d.%s", len(stored)+1, ext),
			Extension: ext, MimeType: "image/" + ext, Size: int64(len(img))}, bytes.NewReader(img))
		if err != nil {
			return err
		}
		stored = append(stored, f)
		return nil
	}
	if err := s.multipartFields(r, "screenshot", onField, onFile); err != nil {
		undo()
		return err
	}
	if !hmac.Equal([]byte(token), []byte(s.feedbackToken(c, member))) {
		undo()
		return errFormToken
	}
	if build.ID == "" {
		if build, err = shownBuild(builds, buildID); err != nil {
			return err
		}
	}
	if len(text) > store.MaxFeedbackText || !utf8.ValidString(text) {
		undo()
		return errBadRequest(fmt.Sprintf("the text is at most %d bytes of UTF-8", store.MaxFeedbackText))
	}
	dev := deviceOf(r.UserAgent())
	fb := store.Feedback{BuildID: build.ID, DistributionID: d.ID, Tester: s.testerName(member), Text: text, Platform: dev.Platform, Model: dev.Model}
	for _, f := range stored {
		fb.FileIDs = append(fb.FileIDs, f.ID)
	}
	proj, err := s.store.Project(d.ProjectID)
	if err != nil {
		undo()
		return err
	}
	_, err = c.st().CreateFeedback(fb, func(to string) store.Mail {
		return composeMail(to, "Feedback on "+orText(build.AppName, proj.Name)+" "+build.VersionName, mailWords{
			Greeting: "Hello,",
			Lines:    []string{fb.Tester + " reported a problem with " + strings.TrimSpace(orText(build.AppName, proj.Name)+" "+strings.TrimPrefix(versionLine(build.VersionName, build.VersionCode), "Version ")) + screenshotsNote(len(stored)) + ":"},
			Notes:    text,
			Action:   "Open the build", URL: s.cfg.PublicURL + "/w/" + ws.Slug + "/p/" + proj.Slug + "/b/" + build.ID + "#feedback",
			After: []string{"You get this mail because you asked for " + orText(ws.Name, ws.Slug) + "'s feedback by mail (on the workspace's page)."},
		})
	})
	if err != nil {
		undo()
		return err
	}
	sent = true
	s.wakeMail()
	http.Redirect(w, r, t.page+"?feedback=sent", http.StatusSeeOther)
	return nil
}

// shownBuild is the build id among those a page shows.
func shownBuild(builds []store.BuildFiles, id string) (store.Build, error) {
	for _, bf := range builds {
		if bf.Build.ID == id {
			return bf.Build, nil
		}
	}
	return store.Build{}, errBadRequest("the report is for a build this page does not show: reload the page")
}

var errNotImage = errBadRequest(fmt.Sprintf("a screenshot is a PNG or JPEG image of at most %d MiB and %d megapixels", maxScreenshotBytes>>20, maxScreenshotPixels/1_000_000))

// readScreenshot reads an image within the bounds and decodes it whole
// (a file that only starts like an image is refused), one at a time
// across the server, and returns its bytes and extension.
func readScreenshot(body io.Reader) ([]byte, string, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxScreenshotBytes+1))
	if err != nil {
		return nil, "", bodyErr(err)
	}
	if len(b) > maxScreenshotBytes {
		return nil, "", errNotImage
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || (format != "png" && format != "jpeg") || cfg.Width <= 0 || cfg.Height <= 0 ||
		cfg.Width > maxScreenshotSide || cfg.Height > maxScreenshotSide || cfg.Width*cfg.Height > maxScreenshotPixels {
		return nil, "", errNotImage
	}
	decoding <- struct{}{}
	_, _, err = image.Decode(bytes.NewReader(b))
	<-decoding
	if err != nil {
		return nil, "", errNotImage
	}
	ext := map[string]string{"png": "png", "jpeg": "jpeg"}[format]
	return b, ext, nil
}

// decoding bounds the screenshots decoded at once (each up to 48 MB).
var decoding = make(chan struct{}, 2)

// screenshotsNote says how many screenshots a report has, if any.
func screenshotsNote(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return " (1 screenshot, on the build's page)"
	}
	return fmt.Sprintf(" (%d screenshots, on the build's page)", n)
}
