package server

import (
	"net/http"
	"strconv"
	"strings"

	"hangar/depot"
	"hangar/store"
)

// App Center's apps and releases over Hangar's projects and builds: an
// owner is a workspace, an app a project, a release a build, named by its
// sequence number (an integer, as App Center's clients expect).

type appCenterApp struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name"`
	OS          string            `json:"os"`
	Platform    string            `json:"platform"`
	Owner       map[string]string `json:"owner"`
}

var appCenterOS = map[string]string{"ios": "iOS", "android": "Android", "macos": "macOS", "windows": "Windows"}

// getAppCenterApp is GET /v0.1/apps/{o}/{a}: whether the app exists.
func (s *Server) getAppCenterApp(w http.ResponseWriter, r *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, appCenterApp{ID: c.proj.ID, Name: c.proj.Slug, DisplayName: orText(c.proj.Name, c.proj.Slug),
		OS: orText(appCenterOS[c.proj.Platform], "Custom"), Platform: "Objective-C-Swift",
		Owner: map[string]string{"id": c.ws.ID, "name": c.ws.Slug, "display_name": orText(c.ws.Name, c.ws.Slug), "type": "org"}})
	return nil
}

type appCenterRelease struct {
	ID               uint64              `json:"id"`
	AppName          string              `json:"app_name"`
	AppDisplayName   string              `json:"app_display_name"`
	Version          string              `json:"version"`
	ShortVersion     string              `json:"short_version"`
	ReleaseNotes     string              `json:"release_notes"`
	Size             int64               `json:"size,omitempty"`
	MinOS            string              `json:"min_os,omitempty"`
	BundleIdentifier string              `json:"bundle_identifier,omitempty"`
	Fingerprint      string              `json:"fingerprint,omitempty"`
	UploadedAt       isoTime             `json:"uploaded_at"`
	DownloadURL      string              `json:"download_url,omitempty"`
	InstallURL       string              `json:"install_url,omitempty"`
	Enabled          bool                `json:"enabled"`
	Status           string              `json:"status"`
	Branch           string              `json:"branch,omitempty"`
	CommitHash       string              `json:"commit_hash,omitempty"`
	CommitMessage    string              `json:"commit_message,omitempty"`
	Groups           []appCenterGroupRef `json:"distribution_groups"`
	Mandatory        bool                `json:"mandatory_update"`
}

// appCenterGroupRef is a group a release was given to.
type appCenterGroupRef struct {
	Name string `json:"name"`
}

// viewRelease renders a build as a release; its download URL is signed
// for signed_url_ttl, its install URL the build's page in the console.
func (s *Server) viewRelease(c *call, bf store.BuildFiles) appCenterRelease {
	b := bf.Build
	v := appCenterRelease{ID: b.Seq, AppName: c.proj.Slug, AppDisplayName: orText(b.AppName, orText(c.proj.Name, c.proj.Slug)),
		Version: orText(b.VersionCode, b.VersionName), ShortVersion: orText(b.VersionName, b.VersionCode), ReleaseNotes: b.Notes,
		MinOS: b.MinOS, BundleIdentifier: b.BundleID, UploadedAt: isoTime(b.CreatedAt), Enabled: true, Status: "available", Groups: []appCenterGroupRef{}, Mandatory: b.Mandatory}
	for _, t := range b.Tags {
		if g, ok := strings.CutPrefix(t, "appcenter-"); ok {
			v.Groups = append(v.Groups, appCenterGroupRef{Name: g})
		}
	}
	if b.Deployer != nil {
		v.Branch, v.CommitHash, v.CommitMessage = b.Deployer.Info.Branch, b.Deployer.Info.Commit, b.Deployer.Info.CommitMessage
	}
	if f, ok := depot.FileOfType(bf.Files, store.FilePackage); ok {
		v.Size, v.Fingerprint = f.Size, f.Checksum
		v.DownloadURL = s.signedURLFor(c.base, f.ID, f.Name, s.cfg.SignedURLTTL)
	}
	v.InstallURL = c.base + "/w/" + c.ws.Slug + "/p/" + c.proj.Slug + "/b/" + b.ID
	return v
}

// projectRelease resolves the path's release ID in the request's project.
func (s *Server) projectRelease(c *call) (store.BuildFiles, error) {
	seq, err := strconv.ParseUint(c.params.ByName("releaseId"), 10, 64)
	if err != nil {
		return store.BuildFiles{}, errNotFound("release")
	}
	b, err := s.store.BuildBySeq(c.proj.ID, seq)
	if err != nil {
		return store.BuildFiles{}, notFoundAs(err, "release")
	}
	files, err := s.store.Files(b.ID)
	return store.BuildFiles{Build: b, Files: files}, err
}

func (s *Server) getRelease(w http.ResponseWriter, r *http.Request, c *call) error {
	bf, err := s.projectRelease(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewRelease(c, bf))
	return nil
}

// listReleases is GET …/releases: the project's processed builds, newest
// first (at most 100, as App Center's list is short).
func (s *Server) listReleases(w http.ResponseWriter, r *http.Request, c *call) error {
	builds, _, _, err := s.store.SearchBuilds(c.proj.ID, store.BuildQuery{Status: store.BuildProcessed}, "", 100)
	if err != nil {
		return err
	}
	out := make([]appCenterRelease, 0, len(builds))
	for _, bf := range builds {
		out = append(out, s.viewRelease(c, bf))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// updateRelease is PUT (or PATCH) …/releases/{id} {release_notes, build:
// {branch, commit_hash, commit_message}}: the build's notes and what CI
// said of it.
func (s *Server) updateRelease(w http.ResponseWriter, r *http.Request, c *call) error {
	bf, err := s.projectRelease(c)
	if err != nil {
		return err
	}
	var req struct {
		Notes *string `json:"release_notes"`
		Build *struct {
			Branch        string `json:"branch"`
			CommitHash    string `json:"commit_hash"`
			CommitMessage string `json:"commit_message"`
		} `json:"build"`
	}
	if err := decodeLenient(r, &req); err != nil {
		return err
	}
	if req.Notes != nil && len(*req.Notes) > maxAppCenterNotes {
		return errBadRequest("release_notes is at most 5,000 characters")
	}
	b, err := s.store.UpdateBuild(bf.Build.ID, func(b *store.Build) error {
		if req.Notes != nil {
			b.Notes = *req.Notes
		}
		if req.Build != nil {
			if b.Deployer == nil {
				b.Deployer = &store.Deployer{}
			}
			i := &b.Deployer.Info
			i.Branch, i.Commit, i.CommitMessage = cut(strings.TrimSpace(req.Build.Branch), maxCIField), cut(strings.TrimSpace(req.Build.CommitHash), maxCIField),
				cut(req.Build.CommitMessage, maxCommitMessage)
		}
		return nil
	})
	if err != nil {
		return err
	}
	bf.Build = b
	writeJSON(w, http.StatusOK, s.viewRelease(c, bf))
	return nil
}

// maxAppCenterNotes is App Center's own bound on release notes.
const maxAppCenterNotes = 5000

func (s *Server) deleteRelease(w http.ResponseWriter, r *http.Request, c *call) error {
	bf, err := s.projectRelease(c)
	if err != nil {
		return err
	}
	if err := s.deleteBuild(c, bf.Build.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
