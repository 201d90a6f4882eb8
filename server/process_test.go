package server_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"hangar/config"
	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

type processedBuild struct {
	Status, Version, BuildNumber, OS, AppName, BundleID, PackageName, MinOS, TargetSDK, ProcessingError string
	ProcessingNotes                                                                                     []string
	ProvisioningProfile                                                                                 *struct {
		Name, Team, TeamID, Type string
		Expires                  time.Time
		Devices                  int
	}
	Files []struct{ FileID, Name, Type, Checksum string }
}

func TestProcessIPA(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"notes", "", "first"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	var got processedBuild
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &got)
	if got.Status != "processed" || got.Version != "2.4.1" || got.BuildNumber != "241" || got.OS != "ios" ||
		got.AppName != "Demo App" || got.BundleID != "com.example.demo" || got.PackageName != "" || got.MinOS != "15.0" ||
		got.ProcessingError != "" || len(got.ProcessingNotes) != 0 {
		t.Fatalf("processed IPA: %+v", got)
	}
	p := got.ProvisioningProfile
	if p == nil || p.Name != "Demo Ad Hoc" || p.Team != "Example Corp" || p.TeamID != "ABCDE12345" || p.Type != "ad-hoc" ||
		p.Devices != 3 || !p.Expires.Equal(pkgtest.ProfileExpires) {
		t.Fatalf("profile: %+v", p)
	}
	// The icon is a file of type icon: the CgBI @3x icon, now a PNG a
	// browser shows.
	if len(got.Files) != 2 || got.Files[1].Type != "icon" || got.Files[1].Name != "icon.png" {
		t.Fatalf("files: %+v", got.Files)
	}
	code, u := e.send("GET", projPath+"/build/file/"+got.Files[1].FileID, admin, "", nil)
	if code != 200 {
		t.Fatalf("icon URL: %d %s", code, u)
	}
	r, data := do(t, "GET", string(u), nil)
	wantCode(t, r, data, 200)
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() != 12 || img.Bounds().Dy() != 9 {
		t.Fatalf("icon: %v %v", img, err)
	}
}

// Broken packages end in error with a reason; they hold up neither the
// server nor the builds queued behind them.
func TestProcessBrokenPackages(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.ProcessingWorkers = 1 })
	admin := e.adminToken()
	bomb := pkgtest.Zip(pkgtest.Entry{Name: "AndroidManifest.xml", Data: make([]byte, 64<<20)})
	cases := []struct {
		name, data, reason string
	}{
		{"bomb.apk", string(bomb), "bomb.apk: AndroidManifest.xml is 67108864 bytes, more than the 4194304 allowed"},
		{"text.aab", "just text", "text.aab: not a readable zip archive"},
		{"empty.ipa", string(pkgtest.Zip()), "empty.ipa: no Payload/<name>.app/Info.plist: not an iOS app archive"},
		{"good.apk", helloAPK(t), ""},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = e.upload(admin, part{"file", c.name, c.data}).BuildID
	}
	for i, c := range cases {
		b := e.waitProcessed(ids[i])
		if c.reason == "" {
			if b.Status != store.BuildProcessed || b.AppName != "HelloWorld" {
				t.Errorf("%s: %+v", c.name, b)
			}
			continue
		}
		if b.Status != store.BuildError || !strings.HasPrefix(b.ProcessingError, c.reason) {
			t.Errorf("%s: status %s, error %q; want error %q", c.name, b.Status, b.ProcessingError, c.reason)
		}
	}
	// The server kept answering meanwhile, and nothing is left queued.
	if q, _ := e.store.ProcessingQueue(); len(q) != 0 {
		t.Fatalf("queue: %v", q)
	}
}

// Files that are not packages are processed at once, with what their
// extension tells.
func TestProcessGenericBuilds(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for name, os := range map[string]string{"Installer.dmg": "macos", "setup.exe": "windows", "App.dSYM.zip": ""} {
		b := e.upload(admin, part{"file", name, "bytes"})
		var got processedBuild
		e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &got)
		if b.Status != "processed" || got.OS != os || len(got.Files) != 1 {
			t.Errorf("%s: status %s, os %q (want %q), files %d", name, b.Status, got.OS, os, len(got.Files))
		}
	}
}
