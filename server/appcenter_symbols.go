package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"hangar/depot"
	"hangar/store"
)

// App Center's symbol uploads, as fastlane's appcenter_upload sends a
// dSYM or an Android mapping: POST …/symbol_uploads gives an upload URL on
// this server, the file is PUT there in one body, and PATCH
// …/symbol_uploads/{id} {"status": "committed"} attaches it to the
// project's build of the version named (else its newest build);
// "aborted" drops it. Hangar keeps the file; it does not symbolicate.

// createSymbolUpload is POST …/symbol_uploads {symbol_type, file_name,
// build, version}.
func (s *Server) createSymbolUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Type     string `json:"symbol_type"`
		FileName string `json:"file_name"`
		Build    string `json:"build"`
		Version  string `json:"version"`
	}
	if err := decodeLenient(r, &req); err != nil {
		return err
	}
	name := "symbols.zip"
	if req.Type == "Android" {
		name = "mapping.txt"
	}
	if n, err := safeFileName(req.FileName); err == nil {
		name = n
	}
	u, plain, err := c.st().CreateReleaseUpload(store.ReleaseUpload{Symbols: true, ProjectID: c.proj.ID, WorkspaceID: c.ws.ID, Uploader: c.who.id, CreatorToken: c.who.token.Hash,
		CreatedBy: c.who.name, FileName: name, BuildVersion: cut(req.Version, maxCIField), BuildNumber: cut(req.Build, maxCIField)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"symbol_upload_id": u.ID, "upload_url": c.base + "/upload/symbols/" + u.AssetID + "?token=" + plain,
		"expiration_date": u.ExpiresAt.UTC().Format(time.RFC3339)})
	return nil
}

// putSymbols is PUT /upload/symbols/{asset}?token=: the file, whole.
func (s *Server) putSymbols(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.uploadOfAsset(r, c, true)
	if err != nil || !u.Symbols {
		return errNotFound("upload")
	}
	switch {
	case u.Done:
		return &apiError{http.StatusConflict, "CONFLICT", orgConflict, "the symbols are uploaded"}
	case r.ContentLength < 0:
		return &apiError{http.StatusLengthRequired, "LENGTH_REQUIRED", orgBadRequest, "send Content-Length"}
	case r.ContentLength > s.cfg.MaxUploadSize:
		return errTooLarge("the file is larger than max_upload_size")
	}
	if err := s.depot.Staging().PutPart(r.Context(), u.AssetID, 1, r.Body, r.ContentLength); err != nil {
		return err
	}
	if _, err := s.store.UpdateReleaseUpload(u.ID, func(x *store.ReleaseUpload) error {
		x.Done, x.FileSize, x.Chunks, x.Received = true, r.ContentLength, 1, []int{1}
		return nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated) // as Azure's blob store answers the PUT
	return nil
}

// patchSymbolUpload is PATCH …/symbol_uploads/{id} {"status":
// "committed"|"aborted"}.
func (s *Server) patchSymbolUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.projectUpload(c)
	if err != nil || !u.Symbols {
		return errNotFound("symbol upload")
	}
	var req struct {
		Status string `json:"status"`
	}
	if err := decodeLenient(r, &req); err != nil {
		return err
	}
	st := s.depot.Staging()
	switch req.Status {
	case "committed":
		if !u.Done {
			return errBadRequest("PUT the file to upload_url first")
		}
		b, err := s.symbolsBuild(c, u)
		if err != nil {
			return err
		}
		body := depot.StagedFile(r.Context(), st, u.AssetID, 1)
		defer body.Close()
		if _, err := s.storeDeclared(depot.NewFile{BuildID: b.ID, Type: store.FileAttachment, Name: u.FileName, Extension: extension(u.FileName),
			MimeType: mimeType(u.FileName), Size: u.FileSize}, body); err != nil {
			return err
		}
	case "aborted":
	default:
		return errBadRequest(`status must be "committed" or "aborted"`)
	}
	if err := st.Remove(context.Background(), u.AssetID); err != nil {
		return err
	}
	if err := s.store.DeleteReleaseUpload(u.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"symbol_upload_id": u.ID, "status": req.Status})
	return nil
}

// symbolsBuild is the build symbols belong to: the newest of the version
// (and build number) the upload named, else the project's newest.
func (s *Server) symbolsBuild(c *call, u store.ReleaseUpload) (store.Build, error) {
	builds, _, _, err := s.store.SearchBuilds(c.proj.ID, store.BuildQuery{}, "", 200)
	if err != nil {
		return store.Build{}, err
	}
	for _, bf := range builds {
		b := bf.Build
		if (u.BuildVersion == "" || strings.EqualFold(b.VersionName, u.BuildVersion)) && (u.BuildNumber == "" || b.VersionCode == u.BuildNumber) {
			return b, nil
		}
	}
	if len(builds) > 0 {
		return builds[0].Build, nil
	}
	return store.Build{}, errBadRequest("the app has no build to attach the symbols to: upload the release first")
}

// addAppToGroup is fastlane's POST /v0.1/orgs/{o}/distribution_groups/
// {name}/apps: every app of a workspace is in every one of its groups
// already (409, which fastlane takes as "already added").
func (s *Server) addAppToGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := s.groupNamed(c, c.params.ByName("group")); err != nil {
		return err
	}
	return &apiError{http.StatusConflict, "CONFLICT", orgConflict, "the workspace's apps are in all of its groups"}
}
