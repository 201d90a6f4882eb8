package server

import (
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"hangar/depot"
	"hangar/store"
)

// Workspace API handlers for builds and their files (Totis' Files & Public Links API, docs/apis.md: "File
// Endpoints", and the upload routes around it).

// isoTime renders as the reference does: RFC 3339 in UTC, whole seconds.
type isoTime time.Time

func (t isoTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

// fileEntry is a file as the reference's "List Build Files" shows it, plus its
// type and checksum, which CI uses to check an upload.
type fileEntry struct {
	FileID        string  `json:"fileId"`
	Name          string  `json:"name"`
	Size          int64   `json:"size"`
	Path          string  `json:"path"`
	FileExtension string  `json:"fileExtension"`
	Type          string  `json:"type"`
	Checksum      string  `json:"checksum"`
	CreatedAt     isoTime `json:"createdAt"`
}

func viewFile(f store.File) fileEntry {
	return fileEntry{FileID: f.ID, Name: f.Name, Size: f.Size, Path: f.Path, FileExtension: f.Extension,
		Type: f.Type, Checksum: f.Checksum, CreatedAt: isoTime(f.CreatedAt)}
}

// fileDetails is a file as the reference's "Get Build Files (Alternative)" shows
// it, with the additional details it promises.
type fileDetails struct {
	FileID    string  `json:"fileId"`
	Name      string  `json:"name"`
	Size      int64   `json:"size"`
	Extension string  `json:"extension"`
	Type      string  `json:"type"`
	MimeType  string  `json:"mimetype"`
	Checksum  string  `json:"checksum"`
	Path      string  `json:"path"`
	CreatedAt isoTime `json:"createdAt"`
	UpdatedAt isoTime `json:"updatedAt"`
}

type buildView struct {
	BuildID     string `json:"buildId"`
	ProjectID   string `json:"projectId"`
	Status      string `json:"status"`
	Version     string `json:"version,omitempty"`
	BuildNumber string `json:"buildNumber,omitempty"`
	packageMeta
	Notes         string        `json:"notes,omitempty"`
	Tags          []string      `json:"tags,omitempty"`
	Deployer      *deployerView `json:"deployer,omitempty"`
	BuildPlatform string        `json:"buildPlatform,omitempty"`
	CreatedAt     isoTime       `json:"createdAt"`
	CreatedBy     string        `json:"createdBy,omitempty"`
	Files         []fileEntry   `json:"files"`
}

func viewBuild(b store.Build, files []store.File) buildView {
	return buildView{BuildID: b.ID, ProjectID: b.ProjectID, Status: b.Status, Version: b.VersionName,
		BuildNumber: b.VersionCode, packageMeta: metaOf(b), Notes: b.Notes, Tags: b.Tags, Deployer: viewDeployer(b.Deployer),
		BuildPlatform: b.BuildPlatform, CreatedAt: isoTime(b.CreatedAt), CreatedBy: b.CreatedBy, Files: viewAll(files, viewFile)}
}

// packageMeta is what processing read from the package, in both dialects'
// build objects. bundleId is the iOS bundle identifier or the Android
// package name; packageName repeats the latter for Android builds, under
// the name Android tools use.
type packageMeta struct {
	OS              string       `json:"os,omitempty"`
	AppName         string       `json:"appName,omitempty"`
	BundleID        string       `json:"bundleId,omitempty"`
	PackageName     string       `json:"packageName,omitempty"`
	MinOS           string       `json:"minOS,omitempty"`
	TargetSDK       string       `json:"targetSdk,omitempty"`
	Profile         *profileView `json:"provisioningProfile,omitempty"`
	ProcessingError string       `json:"processingError,omitempty"`
	ProcessingNotes []string     `json:"processingNotes,omitempty"`
	// What the package itself says of its version, when the upload's
	// version fields say otherwise.
	PackageVersion     string `json:"packageVersion,omitempty"`
	PackageBuildNumber string `json:"packageBuildNumber,omitempty"`
}

// profileView is a provisioning profile as both APIs show it. The
// profile's device list is not in it (a few hundred UDIDs in every build
// of a list); the device pages use it.
type profileView struct {
	Name    string    `json:"name"`
	Team    string    `json:"team,omitempty"`
	TeamID  string    `json:"teamId,omitempty"`
	Expires time.Time `json:"expires"`
	Created time.Time `json:"created,omitzero"` // not valid before
	Type    string    `json:"type"`             // development, ad-hoc, enterprise, app-store
	Devices int       `json:"devices"`
}

// deployerView is what CI said about the build, as both APIs show it.
type deployerView struct {
	Name string           `json:"name,omitempty"`
	Info deployerInfoView `json:"info"`
}

type deployerInfoView struct {
	Branch           string `json:"branch,omitempty"`
	Commit           string `json:"commit,omitempty"`
	CommitMessage    string `json:"commitMessage,omitempty"`
	Tag              string `json:"tag,omitempty"`
	RepositoryURL    string `json:"repositoryUrl,omitempty"`
	BuildNumber      string `json:"buildNumber,omitempty"`
	BuildURL         string `json:"buildUrl,omitempty"`
	CIURL            string `json:"ciUrl,omitempty"`
	TriggerTimestamp string `json:"triggerTimestamp,omitempty"`
}

func viewDeployer(d *store.Deployer) *deployerView {
	if d == nil {
		return nil
	}
	i := d.Info
	return &deployerView{Name: d.Name, Info: deployerInfoView{Branch: i.Branch, Commit: i.Commit, CommitMessage: i.CommitMessage,
		Tag: i.Tag, RepositoryURL: i.RepositoryURL, BuildNumber: i.BuildNumber, BuildURL: i.BuildURL, CIURL: i.CIURL,
		TriggerTimestamp: i.TriggerTimestamp}}
}

func metaOf(b store.Build) packageMeta {
	var profile *profileView
	if p := b.Profile; p != nil {
		profile = &profileView{Name: p.Name, Team: p.Team, TeamID: p.TeamID, Expires: p.Expires, Created: p.Created, Type: p.Type, Devices: p.Devices}
	}
	m := packageMeta{OS: b.OS, AppName: b.AppName, BundleID: b.BundleID, MinOS: b.MinOS, TargetSDK: b.TargetSDK,
		Profile: profile, ProcessingError: b.ProcessingError, ProcessingNotes: b.ProcessingNotes}
	if b.OS == "android" {
		m.PackageName = b.BundleID
	}
	if labelled(b) {
		m.PackageVersion, m.PackageBuildNumber = b.PackageVersion, b.PackageBuild
	}
	return m
}

// projectBuild returns a build of the request's project; builds of other
// projects are not found.
func (s *Server) projectBuild(c *call, id string) (store.Build, error) {
	b, err := s.store.Build(id)
	if err != nil || b.ProjectID != c.proj.ID {
		return store.Build{}, notFoundAs(orNotFound(err), "build")
	}
	return b, nil
}

// projectFile returns a file of a build of the request's project.
func (s *Server) projectFile(c *call, id string) (store.File, error) {
	f, err := s.store.File(id)
	if err != nil {
		return f, notFoundAs(err, "file")
	}
	if _, err := s.projectBuild(c, f.BuildID); err != nil {
		return store.File{}, errNotFound("file")
	}
	return f, nil
}

// orNotFound turns a nil error (the entity exists but is not the caller's)
// into store.ErrNotFound.
func orNotFound(err error) error {
	if err == nil {
		return store.ErrNotFound
	}
	return err
}

// pageParams reads ?page= (from 1) and ?limit= (1 to 200, default 50), or
// ?cursor= (a previous page's next, from its Link header) with ?limit=.
func pageParams(r *http.Request) (store.Page, error) {
	p := store.Page{Limit: 50}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		var err error
		if p.Limit, err = strconv.Atoi(v); err != nil || p.Limit < 1 || p.Limit > 200 {
			return p, errBadRequest("limit must be a whole number from 1 to 200")
		}
	}
	if v := q.Get("page"); v != "" {
		page, err := strconv.Atoi(v)
		if err != nil || page < 1 || page > math.MaxInt32 {
			return p, errBadRequest("page must be a whole number from 1")
		}
		p.Offset = (page - 1) * p.Limit
	}
	if p.After = q.Get("cursor"); p.After != "" && q.Has("page") {
		return p, errBadRequest("give page or cursor, not both")
	}
	return p, nil
}

// linkNext tells the client where the next page is, when there is one: an
// RFC 8288 Link header (rel="next") to this list with ?cursor=. The body
// keeps the reference's shape, a bare array.
func linkNext(w http.ResponseWriter, r *http.Request, next string) {
	if next == "" {
		return
	}
	q := r.URL.Query()
	q.Del("page")
	q.Set("cursor", next)
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	w.Header().Set("Link", "<"+u.String()+`>; rel="next"`)
}

// buildFields are the optional fields of a new build, from a multipart form
// or a JSON body.
type buildFields struct {
	Version     string   `json:"version"`
	BuildNumber string   `json:"buildNumber"`
	Notes       string   `json:"notes"`
	Tags        []string `json:"-"`
	// CI metadata, from form fields (see ciField) or JSON.
	Deployer      *store.Deployer `json:"deployer"`
	BuildPlatform string          `json:"buildPlatform"`
	Notify        *store.Notify   `json:"-"` // Applivery's notify fields
	// The workspace API's: notify (true: mail the groups of the
	// distributions set to "ask") and notifyMessage.
	NotifyGroups  *bool  `json:"notify"`
	NotifyMessage string `json:"notifyMessage"`
	// The workspace API's tags: a form field of comma-separated tags (or
	// several fields), or a JSON list.
	TagList []string `json:"tags"`
}

// CI fields are kept whole up to these sizes and cut beyond: a long commit
// message must not fail an upload.
const (
	maxCIField       = 512
	maxCommitMessage = 4096
	maxBuildPlatform = 32
)

// ciField takes one of the CI fields Applivery's clients send, in the
// dotted form (deployer.info.branch: curl, Bitrise, GitHub Actions) or the
// bracketed one (deployer[info][branch]: fastlane's nested parameters). It
// reports whether name was one.
func (f *buildFields) ciField(name, value string) bool {
	name = strings.NewReplacer("[", ".", "]", "").Replace(name)
	if name == "buildPlatform" {
		f.BuildPlatform = cut(strings.TrimSpace(value), maxBuildPlatform)
		return true
	}
	field, ok := strings.CutPrefix(name, "deployer.")
	if !ok {
		return false
	}
	if f.Deployer == nil {
		f.Deployer = &store.Deployer{}
	}
	info := &f.Deployer.Info
	dst := map[string]*string{
		"name": &f.Deployer.Name, "info.branch": &info.Branch, "info.commit": &info.Commit, "info.commitMessage": &info.CommitMessage,
		"info.tag": &info.Tag, "info.repositoryUrl": &info.RepositoryURL, "info.buildNumber": &info.BuildNumber,
		"info.buildUrl": &info.BuildURL, "info.ciUrl": &info.CIURL, "info.triggerTimestamp": &info.TriggerTimestamp,
	}[field]
	if dst != nil {
		limit := maxCIField
		if field == "info.commitMessage" {
			limit = maxCommitMessage
		}
		*dst = cut(strings.TrimSpace(value), limit)
	}
	return true // other deployer fields are taken and ignored, as unknown fields are
}

// cut shortens s to at most n bytes, on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (f *buildFields) set(name, value string) error {
	if f.ciField(name, value) {
		return nil
	}
	switch name {
	case "version":
		f.Version = value
	case "buildNumber":
		f.BuildNumber = value
	case "notes":
		f.Notes = value
	case "notify":
		v, err := strconv.ParseBool(value)
		if err != nil {
			return errBadRequest("notify must be true or false")
		}
		f.NotifyGroups = &v
	case "notifyMessage":
		f.NotifyMessage = value
	case "tags":
		var err error
		f.Tags, err = addTags(f.Tags, strings.Split(value, ","))
		return err
	default:
		return errBadRequest(fmt.Sprintf("unknown form field %q; expected version, buildNumber, notes, tags, notify, notifyMessage, deployer.*, buildPlatform and file parts", name))
	}
	return nil
}

// notify is what the upload asked to tell people, from either API's
// fields.
func (f *buildFields) notify() *store.Notify {
	n := f.Notify
	if f.NotifyGroups != nil || f.NotifyMessage != "" {
		if n == nil {
			n = &store.Notify{}
		}
		if f.NotifyGroups != nil {
			n.Employees = *f.NotifyGroups
		}
		if f.NotifyMessage != "" {
			n.Message = cut(f.NotifyMessage, maxCIField)
		}
	}
	return n
}

// newBuild creates a build of the request's project (depot.NewBuild) and
// has fill store its files (with storeFile) and read its fields. If
// anything fails, the build and every file stored so far are removed.
func (s *Server) newBuild(c *call, fill func(buildID string, fields *buildFields) ([]store.File, error)) (store.Build, []store.File, error) {
	return s.depot.NewBuild(c.proj.ID, c.who.name, func(buildID string) (depot.BuildMeta, []store.File, error) {
		var f buildFields
		files, err := fill(buildID, &f)
		if err == nil && f.TagList != nil {
			f.Tags, err = addTags(f.Tags, f.TagList)
		}
		return depot.BuildMeta{Version: f.Version, BuildNumber: f.BuildNumber, Notes: f.Notes, Tags: f.Tags,
			Deployer: f.Deployer, BuildPlatform: f.BuildPlatform, Notify: f.notify()}, files, err
	})
}

// createBuild creates a build from a multipart form (fields version,
// buildNumber, notes and any number of "file" parts, the first of which is
// the build's package), a JSON object of the same fields, an empty body,
// or the package as a raw body named by ?name= with the fields in the
// query string.
func (s *Server) createBuild(w http.ResponseWriter, r *http.Request, c *call) error {
	b, files, err := s.newBuild(c, func(buildID string, fields *buildFields) ([]store.File, error) {
		ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case ctype == "multipart/form-data":
			var files []store.File
			err := s.multipartFields(r, "file", fields.set, s.packageThenAttachments(buildID, &files))
			return files, err
		case r.URL.Query().Has("name"):
			f, err := s.rawPackage(r, c, buildID, fields)
			if err != nil {
				return nil, err
			}
			return []store.File{f}, nil
		case r.ContentLength != 0:
			// An upload route has no overall body cap; a JSON body does.
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBody)
			return nil, decodeJSON(r, fields)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewBuild(b, files))
	return nil
}

// rawPackage stores a raw body as the new build's package: the one way
// to create a build whose package may declare its digest and so not be
// sent again (hangar upload's way). The fields come from the query
// string, read before the body as the form's are.
func (s *Server) rawPackage(r *http.Request, c *call, buildID string, fields *buildFields) (store.File, error) {
	q := r.URL.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if k == "name" {
			continue
		}
		for _, v := range q[k] {
			if err := fields.set(k, v); err != nil {
				return store.File{}, err
			}
		}
	}
	return s.storeRaw(r, c, buildID, store.FilePackage)
}

// storeRaw stores a raw body named by ?name= as a file of a build, its
// Content-Digest (if any) checked, and taken without reading the body
// where bodyOptional allows it.
func (s *Server) storeRaw(r *http.Request, c *call, buildID, fileType string) (store.File, error) {
	name, err := safeFileName(r.URL.Query().Get("name"))
	if err == nil {
		err = s.rawUploadFits(r, c)
	}
	var sum []byte
	if err == nil {
		sum, err = contentDigest(r.Header)
	}
	if err != nil {
		return store.File{}, err
	}
	return s.storeDeclared(depot.NewFile{BuildID: buildID, Type: fileType, Name: name, Extension: extension(name), MimeType: mimeType(name),
		SHA256: sum, Size: r.ContentLength, BodyOptional: bodyOptional(r)}, r.Body)
}

// packageThenAttachments stores the file parts of a new build's form: the
// first is the build's package, the others its attachments.
func (s *Server) packageThenAttachments(buildID string, files *[]store.File) func(name string, body io.Reader) error {
	return func(name string, body io.Reader) error {
		typ := store.FileAttachment
		if len(*files) == 0 {
			typ = store.FilePackage
		}
		f, err := s.storeFile(buildID, typ, name, body)
		if err == nil {
			*files = append(*files, f)
		}
		return err
	}
}

// attach stores the "file" parts of a multipart form as attachments of a
// build; onField decides about other fields, and beforeFile (if set) may
// refuse a file part before anything of it is stored. If any file fails, the files
// already stored by this request are removed again.
func (s *Server) attach(r *http.Request, buildID string, onField func(name, value string) error, beforeFile func() error) ([]store.File, error) {
	var files []store.File
	err := s.multipartFields(r, "file", onField, func(name string, body io.Reader) error {
		if beforeFile != nil {
			if err := beforeFile(); err != nil {
				return err
			}
		}
		f, err := s.storeFile(buildID, store.FileAttachment, name, body)
		if err == nil {
			files = append(files, f)
		}
		return err
	})
	if err == nil && len(files) == 0 {
		err = errBadRequest(`no "file" part in the form`)
	}
	if err != nil {
		s.depot.DeleteFiles(files)
		return nil, err
	}
	return files, nil
}

// addFiles adds attachments to a build: "file" parts of a multipart form, or
// a raw body (any other Content-Type, typically application/octet-stream)
// named by ?name=.
func (s *Server) addFiles(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	var files []store.File
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype == "multipart/form-data" {
		files, err = s.attach(r, b.ID, func(name, _ string) error {
			return errBadRequest(fmt.Sprintf("unknown form field %q; expected \"file\" parts", name))
		}, nil)
	} else {
		var f store.File
		if f, err = s.storeRaw(r, c, b.ID, store.FileAttachment); err == nil {
			files = append(files, f)
		}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewAll(files, viewFile))
	return nil
}

// rawUploadFits refuses a raw upload before reading it when its declared
// length already exceeds the size limit or the workspace's quota. The
// limits are enforced again while streaming, for bodies without a length.
func (s *Server) rawUploadFits(r *http.Request, c *call) error {
	n := r.ContentLength
	switch {
	case n > s.cfg.MaxUploadSize:
		return errTooLarge("upload exceeds the size limit")
	case n > 0 && c.ws.StorageQuota > 0 && c.ws.StorageUsed+n > c.ws.StorageQuota:
		return fmt.Errorf("%w: the upload is %d bytes", store.ErrQuotaExceeded, n)
	}
	return nil
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request, c *call) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	builds, next, err := s.store.BuildsWithFiles(c.proj.ID, page)
	if err != nil {
		return err
	}
	out := make([]buildView, 0, len(builds))
	for _, b := range builds {
		out = append(out, viewBuild(b.Build, b.Files))
	}
	linkNext(w, r, next)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request, c *call) error {
	b, files, err := s.buildWithFiles(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBuild(b, files))
	return nil
}

func (s *Server) buildWithFiles(c *call) (store.Build, []store.File, error) {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return b, nil, err
	}
	files, err := s.store.Files(b.ID)
	return b, files, err
}

// listBuildFiles is the reference's "List Build Files".
func (s *Server) listBuildFiles(w http.ResponseWriter, r *http.Request, c *call) error {
	_, files, err := s.buildWithFiles(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(files, viewFile))
	return nil
}

// listBuildFileDetails is the reference's "Get Build Files (Alternative)".
func (s *Server) listBuildFileDetails(w http.ResponseWriter, r *http.Request, c *call) error {
	_, files, err := s.buildWithFiles(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(files, func(f store.File) fileDetails {
		return fileDetails{FileID: f.ID, Name: f.Name, Size: f.Size, Extension: f.Extension, Type: f.Type,
			MimeType: f.MimeType, Checksum: f.Checksum, Path: f.Path, CreatedAt: isoTime(f.CreatedAt), UpdatedAt: isoTime(f.UpdatedAt)}
	}))
	return nil
}

// fileDownloadURL is the reference's "Get File Download URL": the signed URL as a
// plain string.
func (s *Server) fileDownloadURL(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := s.projectFile(c, c.params.ByName("fileId"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, s.signedURL(c.base, f.ID, f.Name))
	return nil
}

// deleteFile is the reference's "Delete File": the workspace's storage usage
// drops by the file's size; the blob goes when no file uses it any more.
func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := s.projectFile(c, c.params.ByName("fileId"))
	if err != nil {
		return err
	}
	if _, err := s.depot.DeleteFile(c.st().Actor(), f.ID); err != nil {
		return notFoundAs(err, "file") // deleted by a concurrent request
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteBuildHandler is DELETE …/build/{buildId}: the build, its files, and
// their links (deactivated) go; storage usage drops.
func (s *Server) deleteBuildHandler(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.deleteBuild(c, c.params.ByName("buildId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// editBuild is PATCH …/build/{buildId} {"tags": [...], "notes": "…"}: the
// build's tags (replaced whole) and release notes, after upload.
func (s *Server) editBuild(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Tags  *[]string `json:"tags"`
		Notes *string   `json:"notes"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	b, files, err := s.changeBuild(c, c.params.ByName("buildId"), req.Tags, req.Notes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBuild(b, files))
	return nil
}

// labelled reports whether a build's upload fields name another version
// than its package does.
func labelled(b store.Build) bool {
	return b.PackageVersion != "" && b.VersionName != b.PackageVersion || b.PackageBuild != "" && b.VersionCode != b.PackageBuild
}
