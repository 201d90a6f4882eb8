package server

import (
	"cmp"
	"io"
	"net/http"
	"strings"
	"time"

	"hangar/auth"
	"hangar/store"
)

// The organization API (Applivery's API, docs/apis.md, and the upload paths of Applivery's public
// docs): an organization is a workspace, an app a project. Every answer is an
// envelope: {"status": true, "data": …} or, through fail, {"status": false,
// "error": {"code": N, "message": "…"}}.

// errNotProcessed is Applivery's 5014. Hangar answers it with 400: the request
// is not valid for the build as it is now.
var errNotProcessed = &apiError{http.StatusBadRequest, "BUILD_NOT_PROCESSED", orgNotProcessed, "Build Not Processed"}

func writeOrg(w http.ResponseWriter, status int, data any) {
	writeJSON(w, status, orgEnvelope{Status: true, Data: data})
}

// orgTime renders ISO 8601 in UTC with milliseconds, as Applivery's reference does
// ("2024-11-11T11:27:35.446Z").
type orgTime time.Time

func (t orgTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

// orgFile is one entry of a build's files array, in Applivery's shape.
type orgFile struct {
	ID        string      `json:"id"`
	Type      string      `json:"type"`
	File      orgFileInfo `json:"file"`
	CreatedAt orgTime     `json:"createdAt"`
	UpdatedAt orgTime     `json:"updatedAt"`
}

type orgFileInfo struct {
	OriginalName string `json:"originalName"`
	MimeType     string `json:"mimetype"`
	Size         int64  `json:"size"`
	Location     string `json:"location,omitempty"` // a signed URL, valid for signed_url_ttl, for who may download
	Checksum     string `json:"checksum"`
}

// orgBuild is a build as Applivery's Build Details shows it, with the
// fields of Applivery's documented build object that Hangar can fill.
type orgBuild struct {
	ID              string     `json:"id"`
	Application     string     `json:"application"`
	ApplicationInfo orgAppInfo `json:"applicationInfo"`
	Status          string     `json:"status"`
	VersionName     string     `json:"versionName"`
	VersionCode     string     `json:"versionCode,omitempty"`
	packageMeta
	Changelog     string        `json:"changelog"`
	Tags          []string      `json:"tags"`
	Size          int64         `json:"size"`        // the package's bytes
	ProcessTime   int64         `json:"processTime"` // ms reading the package
	QueuedTime    int64         `json:"queuedTime"`  // ms waiting for a worker
	BuildPlatform string        `json:"buildPlatform,omitempty"`
	Deployer      *deployerView `json:"deployer,omitempty"`
	UploadedBy    orgUploader   `json:"uploadedBy"`
	Info          orgBuildInfo  `json:"info"`
	Error         string        `json:"error,omitempty"`
	ErrorCode     string        `json:"errorCode,omitempty"`
	Extension     string        `json:"originalExtension,omitempty"`
	CreatedAt     orgTime       `json:"createdAt"`
	UpdatedAt     orgTime       `json:"updatedAt"`
	CreatedBy     string        `json:"createdBy,omitempty"`
	Files         []orgFile     `json:"files"`
	Organization  string        `json:"organization"`
}

type orgAppInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// orgUploader names who uploaded a build: a user, a service account or an
// app token, by name (Hangar keeps no e-mail addresses).
type orgUploader struct {
	Name string `json:"name,omitempty"`
}

// orgBuildInfo is what processing read, in Applivery's shape: the icon and
// the Android manifest's or the iOS Info.plist's and profile's facts.
type orgBuildInfo struct {
	Icon    string          `json:"icon,omitempty"`
	Android *orgAndroidInfo `json:"android,omitempty"`
	IOS     *orgIOSInfo     `json:"ios,omitempty"`
}

type orgAndroidInfo struct {
	PackageName      string `json:"packageName"`
	VersionName      string `json:"versionName,omitempty"`
	VersionCode      string `json:"versionCode,omitempty"`
	MinSDKVersion    string `json:"minSDKVersion,omitempty"`
	TargetSDKVersion string `json:"targetSdkVersion,omitempty"`
	Icon             string `json:"icon,omitempty"`
}

type orgIOSInfo struct {
	Plist           map[string]any `json:"plist"`
	MobileProvision map[string]any `json:"mobileprovision,omitempty"`
}

// errorCodeProcessing is Applivery's code for a build whose file could not
// be processed ("the file is invalid", as its fastlane plugin says).
const errorCodeProcessing = "5006"

func (s *Server) viewOrgBuild(c *call, b store.Build, files []store.File) orgBuild {
	v := orgBuild{ID: b.ID, Application: b.ProjectID, Organization: c.ws.ID, Status: b.Status, VersionName: b.VersionName,
		VersionCode: b.VersionCode, packageMeta: metaOf(b), Changelog: b.Notes, Tags: b.Tags, CreatedAt: orgTime(b.CreatedAt),
		UpdatedAt: orgTime(cmp.Or(b.UpdatedAt, b.CreatedAt)), CreatedBy: b.CreatedBy, UploadedBy: orgUploader{Name: b.CreatedBy},
		BuildPlatform: cmp.Or(b.BuildPlatform, b.OS), Deployer: viewDeployer(b.Deployer), Files: make([]orgFile, 0, len(files))}
	if c.proj.ID == b.ProjectID {
		v.ApplicationInfo = orgAppInfo{ID: c.proj.ID, Name: cmp.Or(c.proj.Name, c.proj.Slug), Slug: c.proj.Slug}
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if !b.ProcessedAt.IsZero() {
		v.ProcessTime = b.ProcessedAt.Sub(b.ProcessStartedAt).Milliseconds()
		v.QueuedTime = max(0, b.ProcessStartedAt.Sub(b.QueuedAt).Milliseconds())
	}
	if b.Status == store.BuildError {
		v.Error, v.ErrorCode = b.ProcessingError, errorCodeProcessing
	}
	// A signed location is a download: only for who may download (an app
	// token may not, whatever its scope).
	download := c.may(auth.BuildDownload)
	for _, f := range files {
		var location string
		if download {
			location = s.signedURL(c.base, f.ID, f.Name)
		}
		switch f.Type {
		case store.FilePackage:
			v.Size, v.Extension = f.Size, f.Extension
		case store.FileIcon:
			v.Info.Icon = location
		}
		v.Files = append(v.Files, orgFile{
			ID:   f.ID,
			Type: f.Type,
			File: orgFileInfo{OriginalName: f.Name, MimeType: f.MimeType, Size: f.Size,
				Location: location, Checksum: f.Checksum},
			CreatedAt: orgTime(f.CreatedAt),
			UpdatedAt: orgTime(f.UpdatedAt),
		})
	}
	switch b.OS {
	case "android":
		v.Info.Android = &orgAndroidInfo{PackageName: b.BundleID, VersionName: b.VersionName, VersionCode: b.VersionCode,
			MinSDKVersion: b.MinOS, TargetSDKVersion: b.TargetSDK, Icon: v.Info.Icon}
	case "ios":
		v.Info.IOS = &orgIOSInfo{Plist: map[string]any{"CFBundleIdentifier": b.BundleID, "CFBundleDisplayName": b.AppName,
			"CFBundleShortVersionString": b.VersionName, "CFBundleVersion": b.VersionCode, "MinimumOSVersion": b.MinOS}}
		if p := b.Profile; p != nil {
			v.Info.IOS.MobileProvision = map[string]any{"Name": p.Name, "TeamName": p.Team, "TeamIdentifier": p.TeamID,
				"ProvisionsAllDevices": p.Type == "enterprise", "ExpirationDate": orgTime(p.Expires), "ProvisionedDevicesCount": p.Devices}
		}
	}
	return v
}

// orgBuildDetails is Applivery's Build Details.
func (s *Server) orgBuildDetails(w http.ResponseWriter, r *http.Request, c *call) error {
	b, files, err := s.buildWithFiles(c)
	if err != nil {
		return err
	}
	writeOrg(w, http.StatusOK, s.viewOrgBuild(c, b, files))
	return nil
}

// Tags are stored with the build: keep them small.
const (
	maxTags   = 32
	maxTagLen = 100
)

// orgBuildFields reads Applivery's build form fields. Fields it does not
// know (Applivery takes many: notifications, deployment filters, …) are
// ignored, so that scripts written for Applivery run unchanged.
func orgBuildFields(fields *buildFields) func(name, value string) error {
	return func(name, value string) error {
		if fields.ciField(name, value) {
			return nil
		}
		switch name {
		case "versionName":
			fields.Version = value
		case "versionCode":
			fields.BuildNumber = value
		case "changelog":
			fields.Notes = value
		case "notifyCollaborators", "notifyEmployees", "notifyMessage":
			// As Applivery: notifyEmployees mails the testers of the
			// publications the build comes to head (those set to "ask";
			// "always" mails them anyway), notifyCollaborators the
			// workspace's members, with notifyMessage; the request is also
			// in the build.created event.
			if fields.Notify == nil {
				fields.Notify = &store.Notify{}
			}
			switch name {
			case "notifyCollaborators":
				fields.Notify.Collaborators = value == "true"
			case "notifyEmployees":
				fields.Notify.Employees = value == "true"
			default:
				fields.Notify.Message = cut(value, maxCIField)
			}
		case "tags":
			var err error
			fields.Tags, err = addTags(fields.Tags, strings.Split(value, ","))
			return err
		}
		return nil
	}
}

// orgUploadBuild creates a build from Applivery's form: the package in the
// "build" part, versionName, changelog, tags. Without a "build" part the
// build has no package and is processed at once.
func (s *Server) orgUploadBuild(w http.ResponseWriter, r *http.Request, c *call) error {
	b, files, err := s.newBuild(c, func(buildID string, fields *buildFields) ([]store.File, error) {
		var files []store.File
		err := s.multipartFields(r, "build", orgBuildFields(fields), func(name string, body io.Reader) error {
			if len(files) > 0 {
				return errBadRequest(`a build has one package: send one "build" part, and attachments later`)
			}
			f, err := s.storeFile(buildID, store.FilePackage, name, body)
			if err == nil {
				files = append(files, f)
			}
			return err
		})
		return files, err
	})
	if err != nil {
		return err
	}
	writeOrg(w, http.StatusCreated, s.viewOrgBuild(c, b, files))
	return nil
}

// orgAttachFiles is Applivery's "Build Attached Files": "file" parts become
// attachments of a processed build.
func (s *Server) orgAttachFiles(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	if b.Status != store.BuildProcessed {
		return errNotProcessed
	}
	if _, err := s.attach(r, b.ID, func(string, string) error { return nil }, nil); err != nil {
		return err
	}
	files, err := s.store.Files(b.ID)
	if err != nil {
		return err
	}
	writeOrg(w, http.StatusCreated, s.viewOrgBuild(c, b, files))
	return nil
}

type downloadTokenData struct {
	Token     string  `json:"token"`
	ExpiresAt orgTime `json:"expiresAt"`
}

// downloadToken is step 1 of Applivery's download flow: a short-lived,
// single-use token for one file of a processed build (without fileId, its
// package).
func (s *Server) downloadToken(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if t := q.Get("type"); t != "" && t != "auto" {
		return errBadRequest(`type must be "auto"`)
	}
	if b.Status != store.BuildProcessed {
		return errNotProcessed
	}
	files, err := s.store.Files(b.ID)
	if err != nil {
		return err
	}
	var target *store.File
	for i, f := range files {
		if fid := q.Get("fileId"); fid == f.ID || fid == "" && f.Type == store.FilePackage {
			target = &files[i]
			break
		}
	}
	if target == nil {
		return errNotFound("file")
	}
	plain, t, err := s.store.CreateDownloadToken(target.ID, s.now().Add(s.cfg.DownloadTokenTTL))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeOrg(w, http.StatusOK, downloadTokenData{Token: plain, ExpiresAt: orgTime(t.ExpiresAt)})
	return nil
}

// redeemDownloadToken is step 2: the token is the credential. It is used up
// atomically, so concurrent requests with one token get one 302; the answer
// has no body.
func (s *Server) redeemDownloadToken(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := s.store.RedeemDownloadToken(c.params.ByName("token"))
	var f store.File
	if err == nil {
		f, err = s.store.File(t.FileID)
	}
	if err != nil {
		return notFoundAs(err, "token")
	}
	redirectToFile(w, s.signedURLFor(c.base, f.ID, f.Name, redirectURLTTL))
	return nil
}
