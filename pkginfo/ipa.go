package pkginfo

import (
	"archive/zip"
	"fmt"
	"path"
	"strings"
)

// readIPA reads Payload/<name>.app/Info.plist, the app icon it names and
// embedded.mobileprovision.
func readIPA(a *archive) (Info, error) {
	info := Info{OS: "ios"}
	appDir := ""
	for _, f := range a.files {
		dir, file := path.Split(f.Name)
		if file == "Info.plist" && isAppDir(dir) {
			appDir = dir
			break
		}
	}
	if appDir == "" {
		return info, invalidf("no Payload/<name>.app/Info.plist: not an iOS app archive")
	}
	data, _, err := a.readName(appDir+"Info.plist", a.lim.Entry)
	if err != nil {
		return info, err
	}
	p, err := decodePlist(data, a.mem)
	if err != nil {
		return info, invalidf("Info.plist is not a property list (%v)", err)
	}
	info.AppName = firstString(p, "CFBundleDisplayName", "CFBundleName")
	if info.AppName == "" {
		info.AppName = strings.TrimSuffix(path.Base(appDir), ".app")
	}
	info.BundleID = firstString(p, "CFBundleIdentifier")
	info.Version = firstString(p, "CFBundleShortVersionString")
	info.Build = firstString(p, "CFBundleVersion")
	info.MinOS = firstString(p, "MinimumOSVersion", "LSMinimumSystemVersion")
	if info.BundleID == "" {
		return info, invalidf("Info.plist has no CFBundleIdentifier")
	}

	if f := a.appIcon(appDir, iconNames(p)); f == nil {
		info.Notes = append(info.Notes, "no icon file found in the app bundle")
	} else if icon, err := a.readIOSIcon(f); err != nil {
		info.Notes = append(info.Notes, fmt.Sprintf("icon %s not read: %v", path.Base(f.Name), err))
	} else {
		info.Icon = icon
	}

	if data, ok, err := a.readName(appDir+"embedded.mobileprovision", a.lim.Entry); err != nil {
		info.Notes = append(info.Notes, fmt.Sprintf("provisioning profile not read: %v", err))
	} else if ok {
		if prof, err := parseProfile(data, a.mem); err != nil {
			info.Notes = append(info.Notes, fmt.Sprintf("provisioning profile not read: %v", err))
		} else {
			info.Profile = prof
		}
	}
	return info, nil
}

// isAppDir reports whether dir is "Payload/<name>.app/", one level down.
func isAppDir(dir string) bool {
	name, ok := strings.CutPrefix(dir, "Payload/")
	name, ok2 := strings.CutSuffix(name, ".app/")
	return ok && ok2 && name != "" && !strings.Contains(name, "/")
}

// firstString returns the first of the keys whose value is a non-empty
// string (numbers too: some build tools write CFBundleVersion as one).
func firstString(p map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := p[k].(type) {
		case string:
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		case uint64, int64, float64:
			return fmt.Sprint(v)
		}
	}
	return ""
}

// maxIconNames bounds the names tried against every file of the bundle.
const maxIconNames = 64

// iconNames are the icon file name stems Info.plist lists, iPhone first.
func iconNames(p map[string]any) []string {
	var names []string
	add := func(v any) {
		switch v := v.(type) {
		case string:
			names = append(names, v)
		case []any:
			for _, s := range v {
				if s, ok := s.(string); ok {
					names = append(names, s)
				}
			}
		}
	}
	for _, k := range []string{"CFBundleIcons", "CFBundleIcons~ipad"} {
		icons, _ := p[k].(map[string]any)
		primary, _ := icons["CFBundlePrimaryIcon"].(map[string]any)
		add(primary["CFBundleIconFiles"])
		add(primary["CFBundleIconName"])
	}
	add(p["CFBundleIconFiles"])
	add(p["CFBundleIconFile"])
	return names[:min(len(names), maxIconNames)]
}

// appIcon picks the largest PNG directly in appDir whose name starts with
// one of names (AppIcon60x60 → AppIcon60x60@3x.png), or, when Info.plist
// names none that exist, with AppIcon or Icon.
func (a *archive) appIcon(appDir string, names []string) *zip.File {
	pick := func(stems []string) *zip.File {
		var best *zip.File
		for _, f := range a.files {
			dir, file := path.Split(f.Name)
			if dir != appDir || !strings.HasSuffix(strings.ToLower(file), ".png") || f.UncompressedSize64 > uint64(a.lim.IconBytes) {
				continue
			}
			for _, stem := range stems {
				stem = strings.TrimSuffix(stem, ".png")
				if stem != "" && strings.HasPrefix(file, stem) && (best == nil || f.UncompressedSize64 > best.UncompressedSize64) {
					best = f
				}
			}
		}
		return best
	}
	if f := pick(names); f != nil {
		return f
	}
	return pick([]string{"AppIcon", "Icon"})
}

func (a *archive) readIOSIcon(f *zip.File) (*Icon, error) {
	data, err := a.read(f, a.lim.IconBytes)
	if err != nil {
		return nil, err
	}
	return normalPNG(data, a.lim.IconPixels, a.mem)
}
