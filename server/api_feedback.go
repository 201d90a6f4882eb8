package server

import (
	"net/http"
	"time"

	"hangar/store"
)

// Testers' feedback in the workspace API: a build's reports, and whether
// the caller is mailed a workspace's.

type feedbackView struct {
	ID           string           `json:"id"`
	Time         isoTime          `json:"time"`
	Tester       string           `json:"tester"`
	Text         string           `json:"text"`
	Device       device           `json:"device"`
	Distribution string           `json:"distributionId"`
	Screenshots  []screenshotView `json:"screenshots"`
	At           time.Time        `json:"-"` // for the console's dates
}

type screenshotView struct {
	FileID string `json:"fileId"`
	Name   string `json:"name"`
	URL    string `json:"url"` // signed, for signed_url_ttl
}

// feedbackViews renders reports with signed URLs of their screenshots
// (a screenshot deleted since is left out).
func (s *Server) feedbackViews(base string, fs []store.Feedback) []feedbackView {
	out := make([]feedbackView, 0, len(fs))
	for _, f := range fs {
		v := feedbackView{ID: f.ID, Time: isoTime(f.CreatedAt), Tester: f.Tester, Text: f.Text, Device: device{Platform: f.Platform, Model: f.Model},
			Distribution: f.DistributionID, Screenshots: []screenshotView{}, At: f.CreatedAt}
		for _, id := range f.FileIDs {
			if file, err := s.store.File(id); err == nil {
				v.Screenshots = append(v.Screenshots, screenshotView{FileID: id, Name: file.Name, URL: s.signedURLFor(base, id, file.Name, s.cfg.SignedURLTTL)})
			}
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) listFeedback(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	fs, err := s.store.FeedbackOf(b.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.feedbackViews(c.base, fs))
	return nil
}

// setFeedbackMail is PUT …/workspace/{ws}/feedback-mail {"enabled": bool}:
// whether the calling user is mailed the workspace's feedback.
func (s *Server) setFeedbackMail(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return errBadRequest(`send {"enabled": true} or false`)
	}
	if err := s.feedbackMail(c, *req.Enabled); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// feedbackMail sets the caller's choice; only a user with an address can
// be mailed.
func (s *Server) feedbackMail(c *call, on bool) error {
	if c.who.kind != store.TokenSession {
		if !on {
			return nil // nothing to turn off
		}
		return errBadRequest("only a user (with an e-mail address) can be mailed feedback")
	}
	if on {
		if u, err := s.store.User(c.who.id); err != nil || u.Email == "" {
			return errBadRequest("set your e-mail address first (your account page)")
		}
	}
	return s.store.SetFeedbackMail(c.who.id, c.ws.ID, on)
}
