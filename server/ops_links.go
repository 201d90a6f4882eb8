package server

import (
	"context"

	"hangar/store"
)

// Making a public link, as the workspace API and the console do: it knows
// no HTTP.

type createLinkRequest struct {
	DownloadLimit  *int64  `json:"downloadLimit"`
	ExpirationDate *string `json:"expirationDate"`
	IsPermanent    bool    `json:"isPermanent"`
	// Password protects the link (see tester_unlock.go); stored only as a hash.
	Password *string `json:"password"`
}

// newLink creates a public link to file f of the request's project, as the
// API and the console ask for one.
func (s *Server) newLink(ctx context.Context, c *call, f store.File, req createLinkRequest) (store.PublicLink, error) {
	l := store.PublicLink{FileID: f.ID, IsPermanent: req.IsPermanent, CreatedBy: c.who.name}
	if req.DownloadLimit != nil {
		if *req.DownloadLimit < 0 {
			return l, errBadRequest("downloadLimit must be 0 (unlimited) or a positive number")
		}
		l.DownloadLimit = *req.DownloadLimit
	}
	if req.ExpirationDate != nil && *req.ExpirationDate != "" {
		exp, err := parseISODate(*req.ExpirationDate)
		if err != nil {
			return l, errBadRequest("expirationDate must be an ISO 8601 date such as 2024-03-15T00:00:00Z")
		}
		if !req.IsPermanent && !exp.After(s.now()) {
			return l, errBadRequest("expirationDate is in the past")
		}
		l.ExpirationDate = exp.UTC()
	}
	if req.Password != nil && *req.Password != "" {
		var err error
		if l.PasswordHash, err = s.pagePasswordHash(ctx, *req.Password); err != nil {
			return l, err
		}
	}
	l, err := c.st().CreateLink(l)
	return l, notFoundAs(err, "file")
}
