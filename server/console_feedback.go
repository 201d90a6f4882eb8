package server

import (
	"net/http"
	"slices"

	"hangar/auth"
	"hangar/store"
)

// Testers' feedback in the console: reports on the build's page, and the
// workspace page's choice to be mailed them.

// feedbackMailSubmit turns the caller's feedback mail on or off.
func (s *Server) feedbackMailSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.feedbackMail(c, r.PostForm.Get("on") == "1"); err != nil {
		if ae, ok := toAPIError(err); ok && ae.Status == http.StatusBadRequest {
			return s.renderWorkspace(w, r, c, http.StatusBadRequest, ae.Message, createProjectRequest{})
		}
		return err
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug, http.StatusSeeOther)
	return nil
}

// feedbackChoice is the workspace page's feedback mail form: whether the
// caller may choose, and what they chose.
type feedbackChoice struct {
	CanChoose, On bool
}

func (s *Server) feedbackChoiceOf(c *call) feedbackChoice {
	perms, _ := c.who.permissions(c.ws.ID, "")
	if c.who.kind != store.TokenSession || !perms.Has(auth.BuildCreateLinks) {
		return feedbackChoice{}
	}
	u, err := s.store.User(c.who.id)
	return feedbackChoice{CanChoose: err == nil, On: err == nil && slices.Contains(u.FeedbackMail, c.ws.ID)}
}
