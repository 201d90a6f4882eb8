package pkginfo

import (
	"bytes"
	"fmt"
	"image/png"
	"path"
	"strconv"
	"strings"

	"github.com/shogo82148/androidbinary"
	"golang.org/x/image/webp"
)

// Icon densities, as the resource table calls them.
const (
	densityMedium  = 160
	densityXXXHigh = 640
	densityAny     = 0xfffe // and 0xffff, none: not bitmap densities
	// sdkBeforeAdaptive is the newest Android without adaptive icons:
	// resolving the launcher icon for it picks a bitmap over the
	// mipmap-anydpi-v26 XML when the app ships both.
	sdkBeforeAdaptive = 25
)

// readAPK reads the binary AndroidManifest.xml, resolving its references
// (label, icon) through resources.arsc.
func readAPK(a *archive) (Info, error) {
	info := Info{OS: "android"}
	data, ok, err := a.readName("AndroidManifest.xml", a.lim.Entry)
	if err != nil {
		return info, err
	}
	if !ok {
		return info, invalidf("no AndroidManifest.xml: not an Android package")
	}
	m, err := decodeAXML(data, a.mem)
	if err != nil {
		return info, invalidf("AndroidManifest.xml: %v", err)
	}
	if m.name != "manifest" {
		return info, invalidf("AndroidManifest.xml is not a manifest")
	}
	var table *androidbinary.TableFile
	if res, ok, err := a.readName("resources.arsc", a.lim.Resources); err != nil {
		info.Notes = append(info.Notes, fmt.Sprintf("resources not read (%v): no label or icon", err))
	} else if ok {
		if err := checkTable(res, a.mem); err != nil {
			info.Notes = append(info.Notes, fmt.Sprintf("resources.arsc is broken (%v): no label or icon", err))
		} else if table, err = androidbinary.NewTableFile(bytes.NewReader(res)); err != nil {
			info.Notes = append(info.Notes, fmt.Sprintf("resources.arsc is broken (%v): no label or icon", err))
			table = nil
		}
	}
	attr := func(e *axElement, ns, name string) string {
		at, _ := e.attr(ns, name)
		return resolvedString(at, table)
	}
	info.BundleID = attr(m, "", "package")
	if info.BundleID == "" {
		return info, invalidf("AndroidManifest.xml has no package name")
	}
	info.Version = attr(m, androidNS, "versionName")
	info.Build = attr(m, androidNS, "versionCode")
	var icon axAttr
	for _, c := range m.children {
		switch c.name {
		case "uses-sdk":
			info.MinOS = attr(c, androidNS, "minSdkVersion")
			info.TargetSDK = attr(c, androidNS, "targetSdkVersion")
		case "application":
			info.AppName = attr(c, androidNS, "label")
			icon, _ = c.attr(androidNS, "icon")
		}
	}
	if table == nil {
		return info, nil
	}
	ic, err := a.apkIcon(icon, table)
	switch {
	case err != nil:
		info.Notes = append(info.Notes, "icon not read: "+err.Error())
	case ic == nil:
		info.Notes = append(info.Notes, "the manifest names no icon")
	default:
		info.Icon = ic
	}
	return info, nil
}

// resolvedString is an attribute's value, looked up in the resource table
// (default configuration) when it is a reference; "" when it cannot be.
func resolvedString(a axAttr, table *androidbinary.TableFile) string {
	ref := a.ref()
	if ref == 0 {
		return a.String()
	}
	s, _ := resource(table, ref, &androidbinary.ResTableConfig{})
	return s
}

// resource resolves ref in table for cfg to a string (a value or a file's
// path), or to a number written as one.
func resource(table *androidbinary.TableFile, ref uint32, cfg *androidbinary.ResTableConfig) (string, error) {
	if table == nil {
		return "", fmt.Errorf("no resource table")
	}
	v, err := table.GetResource(androidbinary.ResID(ref), cfg)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case uint32:
		return strconv.FormatInt(int64(int32(v)), 10), nil
	}
	return "", fmt.Errorf("resource 0x%08x is not a string", ref)
}

// apkIcon finds the launcher icon's best bitmap: the densest PNG or WebP,
// and for an adaptive icon (an XML drawable) its foreground layer when that
// is a bitmap.
func (a *archive) apkIcon(icon axAttr, table *androidbinary.TableFile) (*Icon, error) {
	ref := icon.ref()
	if ref == 0 {
		if p := icon.String(); isBitmap(p) {
			return a.apkBitmap(p)
		}
		return nil, nil
	}
	anyCfg := &androidbinary.ResTableConfig{Density: densityXXXHigh}
	for _, cfg := range []*androidbinary.ResTableConfig{bitmapConfig(), anyCfg} {
		p, err := resource(table, ref, cfg)
		if err != nil || p == "" {
			continue
		}
		if isBitmap(p) {
			return a.apkBitmap(p)
		}
		if strings.HasSuffix(p, ".xml") {
			if fg := a.adaptiveForeground(p, table); fg != "" {
				return a.apkBitmap(fg)
			}
		}
	}
	return nil, fmt.Errorf("@0x%08X resolves to no PNG or WebP bitmap (a vector or adaptive icon without one)", ref)
}

// bitmapConfig asks the resource table for the densest resource of an
// Android without adaptive icons: a bitmap, when the app ships one.
func bitmapConfig() *androidbinary.ResTableConfig {
	return &androidbinary.ResTableConfig{Density: densityXXXHigh, SDKVersion: sdkBeforeAdaptive}
}

func isBitmap(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".png", ".webp":
		return true
	}
	return false
}

// adaptiveForeground returns the foreground layer's file of an
// <adaptive-icon> drawable, if it resolves to a bitmap.
func (a *archive) adaptiveForeground(p string, table *androidbinary.TableFile) string {
	data, ok, err := a.readName(p, a.lim.Entry)
	if err != nil || !ok {
		return ""
	}
	root, err := decodeAXML(data, a.mem)
	if err != nil || root.name != "adaptive-icon" {
		return ""
	}
	for _, c := range root.children {
		if at, ok := c.attr(androidNS, "drawable"); c.name == "foreground" && ok && at.ref() != 0 {
			if fg, err := resource(table, at.ref(), bitmapConfig()); err == nil && isBitmap(fg) {
				return fg
			}
		}
	}
	return ""
}

func (a *archive) apkBitmap(p string) (*Icon, error) {
	data, ok, err := a.readName(p, a.lim.IconBytes)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("%s is named by resources.arsc but not in the archive", p)
	}
	if strings.EqualFold(path.Ext(p), ".webp") {
		// Served as it is (every current browser shows WebP); its header
		// says how big it is.
		cfg, err := webp.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s is not a WebP file (%v)", p, err)
		}
		return &Icon{Data: data, MimeType: "image/webp", Width: cfg.Width, Height: cfg.Height}, nil
	}
	// AAPT may "crunch" PNGs but writes standard ones.
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return &Icon{Data: data, MimeType: "image/png", Width: cfg.Width, Height: cfg.Height}, nil
}
