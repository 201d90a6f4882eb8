package server

import (
	"fmt"
	"hangar/store"
	"slices"
	"strings"
	"unicode/utf8"
)

// Deleting a build, as the workspace API and the console do: it knows no
// HTTP.

// deleteBuild deletes a build of the request's project with its files
// (their links deactivated; storage usage drops), and logs who did.
func (s *Server) deleteBuild(c *call, id string) error {
	b, err := s.projectBuild(c, id)
	if err == nil {
		err = notFoundAs(s.depot.DeleteBuild(c.st().Actor(), b.ID), "build")
	}
	if err != nil {
		return err
	}
	s.log.Info("build deleted", "build", b.ID, "project", c.proj.Slug, "by", c.who.name)
	return nil
}

// addTags adds tags (trimmed, empty ones dropped, each once) to a build's,
// within the bounds: at most maxTags of maxTagLen bytes, one line each.
func addTags(have, add []string) ([]string, error) {
	out := slices.Clone(have)
	for _, t := range add {
		t = strings.TrimSpace(t)
		switch {
		case t == "" || slices.Contains(out, t):
			continue
		case len(t) > maxTagLen || strings.ContainsAny(t, "\r\n,"):
			return nil, errBadRequest(fmt.Sprintf("a tag is one line of at most %d bytes, without commas", maxTagLen))
		}
		out = append(out, t)
	}
	if len(out) > maxTags {
		return nil, errBadRequest(fmt.Sprintf("at most %d tags", maxTags))
	}
	return out, nil
}

// maxNotes bounds a build's release notes set after upload.
const maxNotes = 64 << 10

// changeBuild sets a build's tags (replacing them; nil: unchanged) and
// notes (nil: unchanged), audited.
func (s *Server) changeBuild(c *call, id string, tags *[]string, notes *string) (store.Build, []store.File, error) {
	b, err := s.projectBuild(c, id)
	if err != nil {
		return b, nil, err
	}
	var newTags []string
	if tags != nil {
		if newTags, err = addTags(nil, *tags); err != nil {
			return b, nil, err
		}
		if newTags == nil {
			newTags = []string{}
		}
	}
	if notes != nil && (len(*notes) > maxNotes || !utf8.ValidString(*notes)) {
		return b, nil, errBadRequest("notes are at most 64 KiB of UTF-8")
	}
	if b, err = c.st().EditBuild(b.ID, newTags, notes); err != nil {
		return b, nil, err
	}
	files, err := s.store.Files(b.ID)
	return b, files, err
}
