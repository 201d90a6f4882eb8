package depot

import (
	"hangar/pkginfo"
	"hangar/store"
)

// BuildMeta are the fields an uploader gives a new build.
type BuildMeta struct {
	Version, BuildNumber, Notes string
	Tags                        []string
	// What CI said about itself (nil: nothing) and the build's platform.
	Deployer      *store.Deployer
	BuildPlatform string
	Notify        *store.Notify // what the upload asked to tell people
}

// NewBuild creates a build of a project and has fill store its files (with
// AddFile, under the build ID it is given) and say its fields. The build is
// created pending and ends in_progress, queued for processing (an IPA, APK
// or AAB), or processed. If fill or anything after it fails, the build and
// every file stored so far are removed: a failed upload leaves no trace.
func (d *Depot) NewBuild(projectID, createdBy string, fill func(buildID string) (BuildMeta, []store.File, error)) (store.Build, []store.File, error) {
	b, err := d.store.CreateBuild(store.Build{ProjectID: projectID, CreatedBy: createdBy})
	if err != nil {
		return b, nil, err
	}
	meta, files, err := fill(b.ID)
	if err == nil {
		b, err = d.store.UpdateBuild(b.ID, func(b *store.Build) error {
			b.VersionName, b.VersionCode, b.Notes, b.Tags = meta.Version, meta.BuildNumber, meta.Notes, meta.Tags
			b.Deployer, b.BuildPlatform, b.Notify = meta.Deployer, meta.BuildPlatform, meta.Notify
			if needsProcessing(files) {
				b.Status = store.BuildInProgress
			} else {
				b.Status, b.OS = store.BuildProcessed, genericOS(files)
			}
			return nil
		})
	}
	if err != nil {
		if derr := d.DeleteBuild(store.System, b.ID); derr != nil {
			d.log.Error("undo build", "build", b.ID, "err", derr)
		}
		return store.Build{}, nil, err
	}
	if b.Status == store.BuildInProgress {
		d.work.push(b.ID)
	}
	return b, files, nil
}

// DeleteBuild deletes a build with its files in one transaction (their
// links are deactivated, storageUsed drops), then the blobs no other file
// uses, recorded as done by as. It returns store.ErrNotFound for a build
// already gone.
func (d *Depot) DeleteBuild(as store.Actor, id string) error {
	_, unused, err := d.store.As(as).DeleteBuild(id)
	if err != nil {
		return err
	}
	d.removeBlobs(unused...)
	return nil
}

// needsProcessing reports whether a build's package is read in the
// background; other builds are processed once stored.
func needsProcessing(files []store.File) bool {
	pkg, ok := FileOfType(files, store.FilePackage)
	return ok && pkginfo.Kind(pkg.Name) != ""
}

// FileOfType returns a build's first file of a type: its package, its icon.
func FileOfType(files []store.File, typ string) (store.File, bool) {
	for _, f := range files {
		if f.Type == typ {
			return f, true
		}
	}
	return store.File{}, false
}

// genericOS names the platform of packages Hangar does not read, from the
// extension alone.
func genericOS(files []store.File) string {
	pkg, ok := FileOfType(files, store.FilePackage)
	if !ok {
		return ""
	}
	switch pkg.Extension {
	case "dmg", "pkg":
		return "macos"
	case "exe", "msi", "msix", "appx":
		return "windows"
	case "deb", "rpm", "appimage":
		return "linux"
	}
	return ""
}
