package pkginfo

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"path"
	"strconv"
	"strings"

	"github.com/shogo82148/androidbinary"
	"github.com/shogo82148/androidbinary/apk"
)

// Icon densities, as the resource table calls them.
const (
	densityXXXHigh = 640
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
	var table *androidbinary.TableFile
	if res, ok, err := a.readName("resources.arsc", a.lim.Resources); err != nil {
		info.Notes = append(info.Notes, fmt.Sprintf("resources not read (%v): no label or icon", err))
	} else if ok {
		if table, err = androidbinary.NewTableFile(bytes.NewReader(res)); err != nil {
			info.Notes = append(info.Notes, fmt.Sprintf("resources.arsc is broken (%v): no label or icon", err))
			table = nil
		}
	}
	xf, err := androidbinary.NewXMLFile(bytes.NewReader(data))
	if err != nil {
		return info, invalidf("AndroidManifest.xml is not binary Android XML (%v)", err)
	}
	var m apk.Manifest
	if err := xf.Decode(&m, table, &androidbinary.ResTableConfig{}); err != nil {
		return info, invalidf("AndroidManifest.xml: %v", err)
	}
	info.BundleID = resolved(m.Package, table)
	if info.BundleID == "" {
		return info, invalidf("AndroidManifest.xml has no package name")
	}
	info.Version = resolved(m.VersionName, table)
	if v, err := m.VersionCode.Int32(); err == nil {
		info.Build = strconv.Itoa(int(v))
	}
	if v, err := m.SDK.Min.Int32(); err == nil {
		info.MinOS = strconv.Itoa(int(v))
	}
	if v, err := m.SDK.Target.Int32(); err == nil {
		info.TargetSDK = strconv.Itoa(int(v))
	}
	info.AppName = resolved(m.App.Label, table)
	if table == nil {
		return info, nil
	}
	icon, err := a.apkIcon(m.App.Icon, table)
	switch {
	case err != nil:
		info.Notes = append(info.Notes, "icon not read: "+err.Error())
	case icon == nil:
		info.Notes = append(info.Notes, "the manifest names no icon")
	default:
		info.Icon = icon
	}
	return info, nil
}

// resolved is the attribute's value, looked up in the resource table when
// it is a reference; "" when it cannot be resolved.
func resolved(v androidbinary.String, table *androidbinary.TableFile) string {
	if table == nil && androidbinary.IsResID(rawValue(v)) {
		return "" // String would dereference the missing table
	}
	s, err := v.WithTableFile(table).String()
	if err != nil || androidbinary.IsResID(s) {
		return ""
	}
	return s
}

// apkIcon finds the launcher icon's best bitmap: the densest PNG or WebP,
// and for an adaptive icon (an XML drawable) its foreground layer when that
// is a bitmap.
func (a *archive) apkIcon(ref androidbinary.String, table *androidbinary.TableFile) (*Icon, error) {
	raw := rawValue(ref)
	if raw == "" {
		return nil, nil
	}
	anyCfg := &androidbinary.ResTableConfig{Density: densityXXXHigh}
	for _, cfg := range []*androidbinary.ResTableConfig{bitmapConfig(), anyCfg} {
		p, err := ref.WithTableFile(table).WithResTableConfig(cfg).String()
		if err != nil || p == "" {
			continue
		}
		if isBitmap(p) {
			return a.apkBitmap(p)
		}
		if strings.HasSuffix(p, ".xml") {
			if fg := a.adaptiveForeground(p, table, cfg); fg != "" {
				return a.apkBitmap(fg)
			}
		}
	}
	return nil, fmt.Errorf("%s resolves to no PNG or WebP bitmap (a vector or adaptive icon without one)", raw)
}

// rawValue is an attribute's value as written: a literal, or a reference
// such as "@0x7F030000".
func rawValue(v androidbinary.String) string {
	attr, _ := v.MarshalXMLAttr(xml.Name{})
	return attr.Value
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
func (a *archive) adaptiveForeground(p string, table *androidbinary.TableFile, cfg *androidbinary.ResTableConfig) string {
	data, ok, err := a.readName(p, a.lim.Entry)
	if err != nil || !ok {
		return ""
	}
	xf, err := androidbinary.NewXMLFile(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	var icon struct {
		Foreground struct {
			Drawable androidbinary.String `xml:"http://schemas.android.com/apk/res/android drawable,attr"`
		} `xml:"foreground"`
	}
	if xf.Decode(&icon, table, cfg) != nil {
		return ""
	}
	fg, err := icon.Foreground.Drawable.WithTableFile(table).WithResTableConfig(bitmapConfig()).String()
	if err != nil || !isBitmap(fg) {
		return ""
	}
	return fg
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
		// Go's standard library has no WebP decoder; check the container
		// and serve it as it is (every current browser shows WebP).
		if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
			return nil, fmt.Errorf("%s is not a WebP file", p)
		}
		return &Icon{Data: data, MimeType: "image/webp"}, nil
	}
	// AAPT may "crunch" PNGs but writes standard ones.
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return &Icon{Data: data, MimeType: "image/png", Width: cfg.Width, Height: cfg.Height}, nil
}
