package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"hangar/auth"
	"hangar/depot"
	"hangar/store"
)

// App Center's release uploads, as its CLI (appcenter-cli 3.0.4) and
// fastlane plugin make them: POST …/uploads/releases gives an upload and
// its asset on an "upload domain" (this server), the package goes to
// /upload/set_metadata, /upload/upload_chunk (numbered blocks, several at
// once, any order) and /upload/finished with the upload's token in the
// query, PATCH …/uploads/releases/{id} says it is finished, and GET of the
// same is polled until the build is processed: its sequence number is
// the release's integer ID. Blocks wait in the blob backend's staging
// area, so a restart between them loses nothing.

// uploadChunkSize is the block size the upload domain asks for, grown
// when a file would need more than store.MaxUploadChunks blocks.
const uploadChunkSize = 4 << 20

// decodeLenient reads a JSON body into v, ignoring fields it does not
// know (App Center's clients send more than Hangar reads); an empty body
// is an empty object.
func decodeLenient(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyErr(err)
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errBadRequest("the body is not the JSON object expected: " + err.Error())
	}
	return nil
}

type releaseUploadView struct {
	ID                string `json:"id"`
	UploadDomain      string `json:"upload_domain"`
	Token             string `json:"token"`
	URLEncodedToken   string `json:"url_encoded_token"`
	PackageAssetID    string `json:"package_asset_id"`
	UploadStatus      string `json:"upload_status,omitempty"`
	ReleaseDistinctID uint64 `json:"release_distinct_id,omitempty"`
	ReleaseURL        string `json:"release_url,omitempty"`
	ErrorDetails      string `json:"error_details,omitempty"`
}

// createReleaseUpload is POST /v0.1/apps/{o}/{a}/uploads/releases
// ({} or {build_version, build_number}).
func (s *Server) createReleaseUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		BuildVersion string `json:"build_version"`
		BuildNumber  string `json:"build_number"`
	}
	if err := decodeLenient(r, &req); err != nil {
		return err
	}
	u, plain, err := c.st().CreateReleaseUpload(store.ReleaseUpload{ProjectID: c.proj.ID, WorkspaceID: c.ws.ID, Uploader: c.who.id, CreatedBy: c.who.name, CreatorToken: c.who.token.Hash,
		BuildVersion: cut(strings.TrimSpace(req.BuildVersion), maxCIField), BuildNumber: cut(strings.TrimSpace(req.BuildNumber), maxCIField)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, releaseUploadView{ID: u.ID, UploadDomain: c.base, Token: plain, URLEncodedToken: plain, PackageAssetID: u.AssetID})
	return nil
}

// projectUpload is the path's upload, of the request's project.
func (s *Server) projectUpload(c *call) (store.ReleaseUpload, error) {
	u, err := s.store.ReleaseUpload(c.params.ByName("uploadId"))
	if err != nil || u.ProjectID != c.proj.ID {
		return u, errNotFound("upload")
	}
	return u, nil
}

// projectReleaseUpload is projectUpload for a release's upload.
func (s *Server) projectReleaseUpload(c *call) (store.ReleaseUpload, error) {
	u, err := s.projectUpload(c)
	if err == nil && u.Symbols {
		err = errNotFound("upload")
	}
	return u, err
}

// patchReleaseUpload is PATCH …/uploads/releases/{id}
// {"upload_status": "uploadFinished"}: the package becomes a build (in the
// background: GET polls), or "error"/"cancelled" abandons the upload.
func (s *Server) patchReleaseUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.projectReleaseUpload(c)
	if err != nil {
		return err
	}
	var req struct {
		Status string `json:"upload_status"`
	}
	if err := decodeLenient(r, &req); err != nil {
		return err
	}
	switch req.Status {
	case store.UploadFinished:
		if !u.Done {
			return errBadRequest("the upload domain has not got every block yet: call finished first")
		}
		if u.Status == store.UploadStarted {
			if u, err = s.store.UpdateReleaseUpload(u.ID, func(u *store.ReleaseUpload) error { u.Status = store.UploadFinished; return nil }); err != nil {
				return err
			}
		}
		s.assemble(u)
	case "cancelled", store.UploadError:
		if u.BuildID != "" {
			return &apiError{http.StatusConflict, "CONFLICT", orgConflict, "the upload is a release already"}
		}
		if err := s.depot.Staging().Remove(context.Background(), u.AssetID); err != nil {
			return err
		}
		if err := s.store.DeleteReleaseUpload(u.ID); err != nil {
			return err
		}
	default:
		return errBadRequest(`upload_status must be "uploadFinished" (or "cancelled")`)
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": u.ID, "upload_status": req.Status})
	return nil
}

// getReleaseUpload is GET …/uploads/releases/{id}, polled until the
// release is ready.
func (s *Server) getReleaseUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.projectReleaseUpload(c)
	if err != nil {
		return err
	}
	v := releaseUploadView{ID: u.ID, UploadDomain: c.base, PackageAssetID: u.AssetID, UploadStatus: u.Status}
	switch {
	case u.Status == store.UploadFinished && u.BuildID == "":
		s.assemble(u) // after a restart, or a first try that failed to start
	case u.BuildID != "":
		b, err := s.store.Build(u.BuildID)
		switch {
		case err != nil:
			v.UploadStatus, v.ErrorDetails = store.UploadError, "the release was deleted"
		case b.Status == store.BuildProcessed:
			v.UploadStatus, v.ReleaseDistinctID = store.UploadReady, b.Seq
			v.ReleaseURL = "v0.1/apps/" + c.ws.Slug + "/" + c.proj.Slug + "/releases/" + strconv.FormatUint(b.Seq, 10)
		case b.Status == store.BuildError:
			v.UploadStatus, v.ErrorDetails = store.UploadError, "the package could not be read: "+b.ProcessingError
		}
	}
	if u.Status == store.UploadError {
		v.ErrorDetails = u.Error
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// assemble turns a finished upload's blocks into a build, in the
// background (one at a time per upload: s.assembling).
func (s *Server) assemble(u store.ReleaseUpload) {
	if _, busy := s.assembling.LoadOrStore(u.ID, true); busy {
		return
	}
	s.assembles.add()
	go func() {
		defer s.assembles.done()
		defer s.assembling.Delete(u.ID)
		proj, err := s.store.Project(u.ProjectID)
		if err != nil {
			return
		}
		st := s.depot.Staging()
		body := depot.StagedFile(s.assembleCtx, st, u.AssetID, u.Chunks)
		defer body.Close()
		name, err := safeFileName(u.FileName)
		if err != nil {
			name = "package"
		}
		b, _, err := s.depot.NewBuild(proj.ID, u.CreatedBy, func(buildID string) (depot.BuildMeta, []store.File, error) {
			f, err := s.storeDeclared(depot.NewFile{BuildID: buildID, Type: store.FilePackage, Name: name, Extension: extension(name),
				MimeType: mimeType(name), Size: u.FileSize}, body)
			if err != nil {
				return depot.BuildMeta{}, nil, err
			}
			return depot.BuildMeta{Version: u.BuildVersion, BuildNumber: u.BuildNumber}, []store.File{f}, nil
		})
		if err != nil && s.assembleCtx.Err() != nil {
			// Stopped by the shutdown: no build was kept, and the upload
			// stays finished for the next poll to make again.
			s.log.Warn("app center upload: stopped by the shutdown", "upload", u.ID)
			return
		}
		_, uerr := s.store.UpdateReleaseUpload(u.ID, func(x *store.ReleaseUpload) error {
			if err != nil {
				x.Status, x.Error = store.UploadError, "the package could not be kept: "+publicMessage(err)
				return nil
			}
			x.BuildID, x.ReleaseID = b.ID, b.Seq
			return nil
		})
		if uerr != nil {
			s.log.Error("app center upload", "upload", u.ID, "err", uerr)
		}
		if err == nil {
			if rerr := st.Remove(context.Background(), u.AssetID); rerr != nil {
				s.log.Error("app center upload: removing its blocks", "upload", u.ID, "err", rerr)
			}
		} else {
			s.log.Warn("app center upload failed", "upload", u.ID, "err", err)
		}
	}()
}

// publicMessage is what a client may be told of an error.
func publicMessage(err error) string {
	ae, _ := toAPIError(err)
	return ae.Message
}

// The upload domain's calls carry the upload's token in the query;
// symbols says which kind of upload the call is for.
func (s *Server) uploadOfAsset(r *http.Request, c *call, symbols bool) (store.ReleaseUpload, error) {
	u, err := s.store.ReleaseUploadByAsset(c.params.ByName("asset"), r.URL.Query().Get("token"))
	if err != nil || u.Symbols != symbols {
		return u, errNotFound("upload") // a wrong token and an unknown asset alike
	}
	if len(u.CreatorToken) > 0 {
		// Revoking the API token (or its owner's right to upload) stops
		// the uploads it made, at once.
		ok, err := s.stillMay(u.CreatorToken, u.WorkspaceID, u.ProjectID, auth.BuildCreate)
		if err != nil {
			return u, err
		}
		if !ok {
			return u, errNotFound("upload")
		}
	}
	return u, nil
}

// setMetadata is POST /upload/set_metadata/{asset}?file_name=&file_size=
// &content_type=&token=: how the file is cut. Asked again for the same
// file, it lists the blocks still missing (a resumed upload).
func (s *Server) setMetadata(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.uploadOfAsset(r, c, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	size, err := strconv.ParseInt(q.Get("file_size"), 10, 64)
	name := q.Get("file_name")
	switch {
	case err != nil || size <= 0:
		return errBadRequest("file_size must be the file's size in bytes")
	case size > s.cfg.MaxUploadSize:
		return errTooLarge(fmt.Sprintf("the file is larger than max_upload_size (%d bytes)", s.cfg.MaxUploadSize))
	case u.Done:
		return &apiError{http.StatusConflict, "CONFLICT", orgConflict, "the upload is finished"}
	}
	if _, err := safeFileName(name); err != nil {
		return errBadRequest("file_name must be a file's name")
	}
	chunk := int64(uploadChunkSize)
	for (size+chunk-1)/chunk > store.MaxUploadChunks {
		chunk *= 2
	}
	chunks := int((size + chunk - 1) / chunk)
	restart := u.FileSize != 0 && (u.FileSize != size || u.FileName != name)
	u, err = s.store.UpdateReleaseUpload(u.ID, func(x *store.ReleaseUpload) error {
		if x.FileSize != size || x.FileName != name {
			x.Received = nil
		}
		x.FileName, x.FileSize, x.ContentType, x.ChunkSize, x.Chunks = name, size, cut(q.Get("content_type"), 100), chunk, chunks
		return nil
	})
	if err != nil {
		return err
	}
	if restart {
		if err := s.depot.Staging().Remove(r.Context(), u.AssetID); err != nil {
			return err
		}
	}
	list := u.Missing()
	if list == nil {
		list = []int{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": u.AssetID, "chunk_size": chunk, "chunk_list": list, "blob_partitions": 1,
		"resume_restart": restart, "error": false, "status_code": "Success"})
	return nil
}

// uploadChunk is POST /upload/upload_chunk/{asset}?block_number=N&token=:
// block N's bytes, streamed into the staging area.
func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.uploadOfAsset(r, c, false)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.URL.Query().Get("block_number"))
	switch {
	case u.Chunks == 0:
		return errBadRequest("set_metadata first")
	case u.Done:
		return &apiError{http.StatusConflict, "CONFLICT", orgConflict, "the upload is finished"}
	case err != nil || n < 1 || n > u.Chunks:
		return errBadRequest(fmt.Sprintf("block_number must be 1 to %d", u.Chunks))
	}
	want := u.ChunkSize
	if n == u.Chunks {
		want = u.FileSize - int64(n-1)*u.ChunkSize
	}
	if r.ContentLength >= 0 && r.ContentLength != want {
		return errBadRequest(fmt.Sprintf("block %d is %d bytes", n, want))
	}
	if err := s.depot.Staging().PutPart(r.Context(), u.AssetID, n, r.Body, want); err != nil {
		if errors.Is(err, depot.ErrPartSize) {
			return errBadRequest(fmt.Sprintf("block %d is %d bytes", n, want))
		}
		return err
	}
	if _, err := s.store.MarkBlock(u.ID, n); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"error": false, "chunk_num": n, "error_code": "None", "message": "Chunk uploaded"})
	return nil
}

// uploadFinished is POST /upload/finished/{asset}?token=: every block is
// here ("state": "Done"), or the ones missing are listed for the client
// to send again.
func (s *Server) uploadFinished(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.uploadOfAsset(r, c, false)
	if err != nil {
		return err
	}
	if u.Chunks == 0 {
		return errBadRequest("set_metadata first")
	}
	if missing := u.Missing(); len(missing) > 0 {
		writeJSON(w, http.StatusOK, map[string]any{"error": false, "state": "Uploading", "missing_chunks": missing,
			"message": fmt.Sprintf("%d blocks are missing", len(missing))})
		return nil
	}
	if _, err := s.store.UpdateReleaseUpload(u.ID, func(x *store.ReleaseUpload) error { x.Done = true; return nil }); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"error": false, "state": "Done", "message": "The file is uploaded", "location": "", "raw_location": ""})
	return nil
}
