// Package pkgtest builds small, real app packages for tests: IPAs with an
// Info.plist, a CgBI-crushed icon and a CMS-wrapped provisioning profile,
// made the way Xcode makes them, so that every field a test checks was set
// by the test. It panics on error: its inputs are the tests' own.
package pkgtest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/asn1"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"time"

	"howett.net/plist"
)

// Entry is a file in a zip archive.
type Entry struct {
	Name string
	Data []byte
}

// Zip builds a zip archive of the entries, in order.
func Zip(entries ...Entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.Name)
		must(err)
		_, err = w.Write(e.Data)
		must(err)
	}
	must(zw.Close())
	return buf.Bytes()
}

// Icon is a small image with opaque pixels and one translucent pixel: the
// translucent one checks un-premultiplying, and keeps png.Encode from
// dropping the alpha channel.
func Icon() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 12, 9))
	for y := 0; y < 9; y++ {
		for x := 0; x < 12; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(20 * x), uint8(25 * y), uint8(x * y), 255})
		}
	}
	img.SetNRGBA(3, 4, color.NRGBA{200, 100, 50, 128})
	return img
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// CgBI encodes img as Xcode does: BGRA, premultiplied, raw deflate, behind
// a CgBI chunk. png.Encode does the row filtering (it mixes filter types),
// on a copy whose channels are already swapped and premultiplied.
func CgBI(img *image.NRGBA) []byte {
	swapped := image.NewNRGBA(img.Bounds())
	for i := 0; i < len(img.Pix); i += 4 {
		r, g, b, a := uint32(img.Pix[i]), uint32(img.Pix[i+1]), uint32(img.Pix[i+2]), uint32(img.Pix[i+3])
		swapped.Pix[i], swapped.Pix[i+1], swapped.Pix[i+2], swapped.Pix[i+3] = uint8(b*a/255), uint8(g*a/255), uint8(r*a/255), uint8(a)
	}
	var std bytes.Buffer
	must(png.Encode(&std, swapped))
	var ihdr, zdata []byte
	for b := std.Bytes()[len(pngSignature):]; len(b) >= 12; {
		n := binary.BigEndian.Uint32(b)
		typ, data := string(b[4:8]), b[8:8+n]
		switch typ {
		case "IHDR":
			ihdr = data
		case "IDAT":
			zdata = append(zdata, data...)
		}
		b = b[12+n:]
	}
	zr, err := zlib.NewReader(bytes.NewReader(zdata))
	must(err)
	filtered, err := io.ReadAll(zr)
	must(err)
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	fw.Write(filtered)
	must(fw.Close())

	out := bytes.NewBuffer(append([]byte(nil), pngSignature...))
	chunk := func(typ string, data []byte) {
		binary.Write(out, binary.BigEndian, uint32(len(data)))
		out.WriteString(typ)
		out.Write(data)
		binary.Write(out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	chunk("CgBI", []byte{0x50, 0x00, 0x20, 0x06})
	chunk("IHDR", ihdr)
	// Split the data over two IDAT chunks, as encoders do for big images.
	half := raw.Len() / 2
	chunk("IDAT", raw.Bytes()[:half])
	chunk("IDAT", raw.Bytes()[half:])
	chunk("IEND", nil)
	return out.Bytes()
}

var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

// explicitContent is a ContentInfo: its content behind an explicit [0]
// tag, written out because encoding/asn1 drops the tag of a RawValue that
// carries FullBytes.
type explicitContent struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue
}

func tagged0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

// Profile wraps a provisioning profile's plist in a DER CMS SignedData, as
// an embedded.mobileprovision (without certificates or signers: Hangar does
// not verify them).
func Profile(p map[string]any) []byte {
	content, err := plist.Marshal(p, plist.XMLFormat)
	must(err)
	return SignedProfile(content)
}

// SignedProfile wraps content, a property list in either format, as
// Profile does.
func SignedProfile(content []byte) []byte {
	octets, err := asn1.Marshal(content)
	must(err)
	sd, err := asn1.Marshal(struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContent     explicitContent
		Certificates     asn1.RawValue
		SignerInfos      asn1.RawValue
	}{
		Version:          1,
		DigestAlgorithms: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: []byte{}},
		EncapContent:     explicitContent{oidData, tagged0(octets)},
		// Stand-ins with the real ones' tags: [0] certificates, a SET of
		// signer infos.
		Certificates: tagged0([]byte{0x30, 0x03, 0x02, 0x01, 0x01}),
		SignerInfos:  asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}},
	})
	must(err)
	ci, err := asn1.Marshal(explicitContent{oidSignedData, tagged0(sd)})
	must(err)
	return ci
}

// ProfileCreated and ProfileExpires bound AdHocProfile's validity.
var (
	ProfileCreated = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ProfileExpires = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
)

// ProfileDevice is the first UDID AdHocProfile lists.
const ProfileDevice = "00008030-001A2B3C4D5E6F70"

// AdHocProfile is an ad hoc profile for three devices.
func AdHocProfile() map[string]any {
	return map[string]any{
		"Name":               "Demo Ad Hoc",
		"TeamName":           "Example Corp",
		"TeamIdentifier":     []string{"ABCDE12345"},
		"ExpirationDate":     ProfileExpires,
		"CreationDate":       ProfileCreated,
		"ProvisionedDevices": []string{ProfileDevice, "00008030-002A2B3C4D5E6F71", "00008110-000C1D2E3F405162"},
		"Entitlements":       map[string]any{"get-task-allow": false, "application-identifier": "ABCDE12345.com.example.demo"},
	}
}

// App is what an IPA built by IPA says about itself.
type App struct {
	Name, BundleID, Version, Build, MinOS string
	// PlistFormat is plist.XMLFormat or plist.BinaryFormat.
	PlistFormat int
}

// DemoApp is the app IPA builds unless told otherwise.
var DemoApp = App{Name: "Demo App", BundleID: "com.example.demo", Version: "2.4.1", Build: "241", MinOS: "15.0", PlistFormat: plist.BinaryFormat}

// IPA builds an IPA of app: Info.plist, a CgBI icon set (Icon() at @3x, a
// 2×2 one at @2x), an icon of a framework that must not be picked, the
// ad hoc profile and a fake executable, then extra.
func IPA(app App, extra ...Entry) []byte {
	info, err := plist.Marshal(map[string]any{
		"CFBundleIdentifier":         app.BundleID,
		"CFBundleName":               "Demo",
		"CFBundleDisplayName":        app.Name,
		"CFBundleShortVersionString": app.Version,
		"CFBundleVersion":            app.Build,
		"MinimumOSVersion":           app.MinOS,
		"CFBundleIcons": map[string]any{
			"CFBundlePrimaryIcon": map[string]any{"CFBundleIconFiles": []string{"AppIcon60x60"}, "CFBundleIconName": "AppIcon"},
		},
	}, app.PlistFormat)
	must(err)
	small := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	small.Pix[3] = 1
	entries := []Entry{
		{"Payload/", nil},
		{"Payload/Demo.app/Info.plist", info},
		{"Payload/Demo.app/AppIcon60x60@2x.png", CgBI(small)},
		{"Payload/Demo.app/AppIcon60x60@3x.png", CgBI(Icon())},
		{"Payload/Demo.app/Frameworks/Other.framework/AppIcon60x60@3x.png", bytes.Repeat([]byte("x"), 5000)},
		{"Payload/Demo.app/embedded.mobileprovision", Profile(AdHocProfile())},
		{"Payload/Demo.app/Demo", []byte("\xcf\xfa\xed\xfe")},
	}
	return Zip(append(entries, extra...)...)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// AndroidNS is the namespace of Android's manifest attributes.
const AndroidNS = "http://schemas.android.com/apk/res/android"

// pb appends protobuf fields: pairs of field number and value; a string or
// []byte value is length-delimited, an int a varint.
func pb(fields ...any) []byte {
	var b []byte
	for i := 0; i < len(fields); i += 2 {
		num := fields[i].(int)
		switch v := fields[i+1].(type) {
		case int:
			b = binary.AppendUvarint(b, uint64(num)<<3)
			b = binary.AppendUvarint(b, uint64(v))
		case string:
			b = binary.AppendUvarint(b, uint64(num)<<3|2)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.AppendUvarint(b, uint64(num)<<3|2)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

// Resource ids of the bundles AAB builds (package 0x7f).
const (
	resIcon       = 0x7f0a0000 // mipmap/ic_launcher
	resForeground = 0x7f0a0001 // mipmap/ic_launcher_foreground
	resAppName    = 0x7f0b0000 // string/app_name
)

// AABManifest is the manifest of an app bundle in aapt2's protobuf form
// (XmlNode{element: XmlElement}): package com.example.bundle, versionName
// 3.0.0-beta, versionCode 77 (compiled, as aapt2 writes it: no string value,
// a decimal primitive), min SDK 24, target 34, and label and icon as
// references into resources.pb ("@string/app_name", "@mipmap/ic_launcher").
func AABManifest() []byte {
	attr := func(ns, name, value string) []byte { return pb(1, ns, 2, name, 3, value) }
	ref := func(name, value string, id int) []byte {
		return pb(1, AndroidNS, 2, name, 3, value, 6, pb(1, pb(2, id)))
	}
	versionCode := pb(1, AndroidNS, 2, "versionCode", 5, 0x0101021b, 6, pb(7, pb(6, 77)))
	usesSDK := pb(1, pb(3, "uses-sdk", 4, attr(AndroidNS, "minSdkVersion", "24"), 4, attr(AndroidNS, "targetSdkVersion", "34")))
	app := pb(1, pb(3, "application", 4, ref("label", "@string/app_name", resAppName), 4, ref("icon", "@mipmap/ic_launcher", resIcon)))
	manifest := pb(3, "manifest",
		4, attr("", "package", "com.example.bundle"),
		4, versionCode,
		4, attr(AndroidNS, "versionName", "3.0.0-beta"),
		5, pb(2, "\n  "), // a text node
		5, usesSDK,
		5, app)
	return pb(1, manifest)
}

// resourceTable is a ResourceTable with app_name (a German value and the
// default "Bundle Demo"), and ic_launcher: two bitmaps, or, when adaptive,
// one adaptive-icon XML whose foreground is ic_launcher_foreground's two
// bitmaps.
func resourceTable(adaptive bool) []byte {
	file := func(density int, path string) []byte {
		return pb(1, pb(18, density), 2, pb(4, pb(5, pb(1, path))))
	}
	entry := func(id int, name string, values ...[]byte) []byte {
		fields := []any{1, pb(1, id), 2, name}
		for _, v := range values {
			fields = append(fields, 6, v)
		}
		return pb(fields...)
	}
	var mipmaps []any
	if adaptive {
		mipmaps = []any{
			3, entry(0, "ic_launcher", pb(1, pb(24, 26), 2, pb(4, pb(5, pb(1, "res/mipmap-anydpi-v26/ic_launcher.xml"))))),
			3, entry(1, "ic_launcher_foreground", file(160, "res/mipmap-mdpi-v4/ic_launcher_foreground.png"), file(640, "res/mipmap-xxxhdpi-v4/ic_launcher_foreground.png")),
		}
	} else {
		mipmaps = []any{3, entry(0, "ic_launcher", file(640, "res/mipmap-xxxhdpi-v4/ic_launcher.webp"), file(160, "res/mipmap-mdpi-v4/ic_launcher.png"))}
	}
	mipmap := pb(append([]any{1, pb(1, 0x0a), 2, "mipmap"}, mipmaps...)...)
	str := pb(1, pb(1, 0x0b), 2, "string", 3, entry(0, "app_name",
		pb(1, pb(3, "de"), 2, pb(4, pb(2, pb(1, "Bündel-Demo")))),
		pb(2, pb(4, pb(2, pb(1, "Bundle Demo"))))))
	return pb(2, pb(1, pb(1, 0x7f), 2, "com.example.bundle", 3, mipmap, 3, str))
}

// AAB builds an app bundle with AABManifest and its resources. Its launcher
// icon's densest bitmap is AABIcon as WebP (the mdpi one is a smaller PNG).
func AAB() []byte {
	return Zip(
		Entry{"BundleConfig.pb", nil},
		Entry{"base/manifest/AndroidManifest.xml", AABManifest()},
		Entry{"base/resources.pb", resourceTable(false)},
		Entry{"base/res/mipmap-mdpi-v4/ic_launcher.png", pngOf(4)},
		Entry{"base/res/mipmap-xxxhdpi-v4/ic_launcher.webp", AABIcon},
		Entry{"base/dex/classes.dex", []byte("dex\n035")},
	)
}

// AABIcon is the densest launcher bitmap of AAB: a 192×192 WebP header
// (Hangar serves WebP as it is, after reading its size).
var AABIcon = WebP(192, 192, 280)

// WebP is a lossless WebP file's header for a w×h image, padded with pad
// bytes of image data: what a reader of the size needs, and no more.
func WebP(w, h, pad int) []byte {
	bits := uint32(w-1) | uint32(h-1)<<14 | 1<<28
	vp8l := binary.LittleEndian.AppendUint32([]byte{0x2f}, bits)
	vp8l = append(vp8l, make([]byte, pad)...)
	chunk := binary.LittleEndian.AppendUint32([]byte("VP8L"), uint32(len(vp8l)))
	chunk = append(chunk, vp8l...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+len(chunk))), append([]byte("WEBP"), chunk...)...)
}

// AABAdaptive builds an app bundle whose launcher icon is adaptive: an XML
// drawable whose foreground layer's densest bitmap is a 64×64 PNG.
func AABAdaptive() []byte {
	adaptive := pb(1, pb(3, "adaptive-icon",
		5, pb(1, pb(3, "background", 4, pb(1, AndroidNS, 2, "drawable", 3, "#FFFFFF"))),
		5, pb(1, pb(3, "foreground", 4, pb(1, AndroidNS, 2, "drawable", 3, "@mipmap/ic_launcher_foreground", 6, pb(1, pb(2, resForeground)))))))
	return Zip(
		Entry{"base/manifest/AndroidManifest.xml", AABManifest()},
		Entry{"base/resources.pb", resourceTable(true)},
		Entry{"base/res/mipmap-anydpi-v26/ic_launcher.xml", adaptive},
		Entry{"base/res/mipmap-mdpi-v4/ic_launcher_foreground.png", pngOf(16)},
		Entry{"base/res/mipmap-xxxhdpi-v4/ic_launcher_foreground.png", pngOf(64)},
	)
}

// pngOf is an n×n PNG with a gradient, so that bigger is more bytes.
func pngOf(n int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37)
	}
	var b bytes.Buffer
	must(png.Encode(&b, img))
	return b.Bytes()
}
