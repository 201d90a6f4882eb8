package server

import (
	"io"
	"net/http"

	"hangar/store"
)

// The console's upload: the API's build creation (newBuild, storeFile)
// from a browser form, streamed like any upload. The form's csrf field
// comes first (it is the form's first input, and browsers send fields in
// order); a file part before a valid token is refused, so nothing is
// stored for a forged form.

type uploadForm struct {
	Workspace workspaceRow
	Project   store.Project
	Action    string
}

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request, c *call) error {
	s.renderPage(w, r, http.StatusOK, "upload", "Upload a build", c, uploadForm{
		Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}, Project: c.proj,
		Action: "/w/" + c.ws.Slug + "/p/" + c.proj.Slug + "/upload",
	})
	return nil
}

func (s *Server) uploadSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	verified := false
	b, _, err := s.newBuild(c, func(buildID string, fields *buildFields) ([]store.File, error) {
		var files []store.File
		keep := s.packageThenAttachments(buildID, &files)
		err := s.multipartFields(r, "file", func(name, value string) error {
			switch {
			case name == "csrf":
				if err := s.checkFormToken(c, value); err != nil {
					return err
				}
				verified = true
				return nil
			case !verified:
				return errFormToken
			case value == "":
				return nil // a field the form left empty
			}
			return fields.set(name, value)
		}, func(name string, body io.Reader) error {
			if !verified {
				return errFormToken
			}
			return keep(name, body)
		})
		if err == nil && len(files) == 0 {
			err = errBadRequest("choose a package to upload")
		}
		return files, err
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, buildPath(c, b.ID), http.StatusSeeOther)
	return nil
}
