package pkginfo

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"howett.net/plist"
)

// zipOf builds a zip archive of the given entries, in order.
func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type entry struct {
	name string
	data []byte
}

func read(t testing.TB, data []byte, name string, lim Limits) (Info, error) {
	t.Helper()
	return Read(bytes.NewReader(data), int64(len(data)), name, lim)
}

// testIcon is a small image with an opaque and a translucent pixel: the
// translucent one checks un-premultiplying, and keeps png.Encode from
// dropping the alpha channel.
func testIcon() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 12, 9))
	for y := 0; y < 9; y++ {
		for x := 0; x < 12; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(20 * x), uint8(25 * y), uint8(x * y), 255})
		}
	}
	img.SetNRGBA(3, 4, color.NRGBA{200, 100, 50, 128})
	return img
}

// cgbi encodes img as Xcode does: BGRA, premultiplied, raw deflate, behind
// a CgBI chunk. png.Encode does the row filtering (it mixes filter types),
// on a copy whose channels are already swapped and premultiplied.
func cgbi(t testing.TB, img *image.NRGBA) []byte {
	t.Helper()
	swapped := image.NewNRGBA(img.Bounds())
	for i := 0; i < len(img.Pix); i += 4 {
		r, g, b, a := uint32(img.Pix[i]), uint32(img.Pix[i+1]), uint32(img.Pix[i+2]), uint32(img.Pix[i+3])
		swapped.Pix[i], swapped.Pix[i+1], swapped.Pix[i+2], swapped.Pix[i+3] = uint8(b*a/255), uint8(g*a/255), uint8(r*a/255), uint8(a)
	}
	var std bytes.Buffer
	if err := png.Encode(&std, swapped); err != nil {
		t.Fatal(err)
	}
	chunks, err := pngChunks(std.Bytes()[8:])
	if err != nil {
		t.Fatal(err)
	}
	var zdata []byte
	for _, c := range chunks {
		if c.typ == "IDAT" {
			zdata = append(zdata, c.data...)
		}
	}
	zr, err := zlib.NewReader(bytes.NewReader(zdata))
	if err != nil {
		t.Fatal(err)
	}
	filtered, _ := io.ReadAll(zr)
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	fw.Write(filtered)
	fw.Close()

	out := bytes.NewBuffer(append([]byte(nil), pngSignature...))
	chunk := func(typ string, data []byte) {
		binary.Write(out, binary.BigEndian, uint32(len(data)))
		out.WriteString(typ)
		out.Write(data)
		binary.Write(out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	chunk("CgBI", []byte{0x50, 0x00, 0x20, 0x06})
	chunk("IHDR", chunks[0].data)
	// Split the data over two IDAT chunks, as encoders do for big images.
	half := raw.Len() / 2
	chunk("IDAT", raw.Bytes()[:half])
	chunk("IDAT", raw.Bytes()[half:])
	chunk("IEND", nil)
	return out.Bytes()
}

// profile wraps a provisioning profile's plist in a DER CMS SignedData, as
// Apple's embedded.mobileprovision (without certificates or signers: Hangar
// does not verify them).
func profile(t testing.TB, p map[string]any) []byte {
	t.Helper()
	content, err := plist.Marshal(p, plist.XMLFormat)
	if err != nil {
		t.Fatal(err)
	}
	oidData := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	octets, _ := asn1.Marshal(content)
	sd, err := asn1.Marshal(struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContent     struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"explicit,tag:0"`
		}
	}{
		Version:          1,
		DigestAlgorithms: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: []byte{}},
		EncapContent: struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"explicit,tag:0"`
		}{oidData, asn1.RawValue{FullBytes: octets}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}{oidSignedData, asn1.RawValue{FullBytes: sd}})
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

var expires = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

func adHocProfile() map[string]any {
	return map[string]any{
		"Name":               "Demo Ad Hoc",
		"TeamName":           "Example Corp",
		"TeamIdentifier":     []string{"ABCDE12345"},
		"ExpirationDate":     expires,
		"ProvisionedDevices": []string{"00008030-001", "00008030-002", "00008030-003"},
		"Entitlements":       map[string]any{"get-task-allow": false, "application-identifier": "ABCDE12345.com.example.demo"},
	}
}

// ipa builds an IPA: Info.plist in the given plist format, a CgBI icon
// set, a decoy PNG and the profile.
func ipa(t testing.TB, format int, extra ...entry) []byte {
	t.Helper()
	info, err := plist.Marshal(map[string]any{
		"CFBundleIdentifier":         "com.example.demo",
		"CFBundleName":               "Demo",
		"CFBundleDisplayName":        "Demo App",
		"CFBundleShortVersionString": "2.4.1",
		"CFBundleVersion":            "241",
		"MinimumOSVersion":           "15.0",
		"CFBundleIcons": map[string]any{
			"CFBundlePrimaryIcon": map[string]any{"CFBundleIconFiles": []string{"AppIcon60x60"}, "CFBundleIconName": "AppIcon"},
		},
	}, format)
	if err != nil {
		t.Fatal(err)
	}
	small := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	small.Pix[3] = 1
	entries := []entry{
		{"Payload/", nil},
		{"Payload/Demo.app/Info.plist", info},
		{"Payload/Demo.app/AppIcon60x60@2x.png", cgbi(t, small)},
		{"Payload/Demo.app/AppIcon60x60@3x.png", cgbi(t, testIcon())},
		{"Payload/Demo.app/Frameworks/Other.framework/AppIcon60x60@3x.png", bytes.Repeat([]byte("x"), 5000)},
		{"Payload/Demo.app/embedded.mobileprovision", profile(t, adHocProfile())},
		{"Payload/Demo.app/Demo", []byte("\xcf\xfa\xed\xfe")},
	}
	return zipOf(t, append(entries, extra...)...)
}

func TestIPA(t *testing.T) {
	for name, format := range map[string]int{"xml": plist.XMLFormat, "binary": plist.BinaryFormat} {
		t.Run(name, func(t *testing.T) {
			info, err := read(t, ipa(t, format), "Demo.ipa", DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			want := Info{Kind: "ipa", OS: "ios", AppName: "Demo App", BundleID: "com.example.demo", Version: "2.4.1", Build: "241", MinOS: "15.0"}
			got := info
			got.Icon, got.Profile, got.Notes = nil, nil, nil
			if !equalInfo(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if len(info.Notes) != 0 {
				t.Errorf("notes: %q", info.Notes)
			}
			checkIcon(t, info.Icon, testIcon())
			wantProf := Profile{Name: "Demo Ad Hoc", Team: "Example Corp", TeamID: "ABCDE12345", Expires: expires, Type: "ad-hoc", Devices: 3}
			if info.Profile == nil || *info.Profile != wantProf {
				t.Errorf("profile %+v, want %+v", info.Profile, wantProf)
			}
		})
	}
}

func equalInfo(a, b Info) bool {
	return a.Kind == b.Kind && a.OS == b.OS && a.AppName == b.AppName && a.BundleID == b.BundleID &&
		a.Version == b.Version && a.Build == b.Build && a.MinOS == b.MinOS && a.TargetSDK == b.TargetSDK
}

// checkIcon decodes the icon as a browser would and compares its pixels
// with want's, allowing for premultiplied alpha's rounding.
func checkIcon(t *testing.T, icon *Icon, want *image.NRGBA) {
	t.Helper()
	if icon == nil {
		t.Fatal("no icon")
	}
	if icon.MimeType != "image/png" || icon.Width != want.Rect.Dx() || icon.Height != want.Rect.Dy() {
		t.Fatalf("icon %s %d×%d, want image/png %d×%d", icon.MimeType, icon.Width, icon.Height, want.Rect.Dx(), want.Rect.Dy())
	}
	img, err := png.Decode(bytes.NewReader(icon.Data))
	if err != nil {
		t.Fatalf("icon is not a standard PNG: %v", err)
	}
	for y := 0; y < want.Rect.Dy(); y++ {
		for x := 0; x < want.Rect.Dx(); x++ {
			got := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			w := want.NRGBAAt(x, y)
			if diff(got.R, w.R) > 2 || diff(got.G, w.G) > 2 || diff(got.B, w.B) > 2 || got.A != w.A {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, w)
			}
		}
	}
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestProfileTypes(t *testing.T) {
	for _, tc := range []struct {
		change func(map[string]any)
		want   string
	}{
		{func(map[string]any) {}, "ad-hoc"},
		{func(p map[string]any) { p["Entitlements"] = map[string]any{"get-task-allow": true} }, "development"},
		{func(p map[string]any) { delete(p, "ProvisionedDevices"); p["ProvisionsAllDevices"] = true }, "enterprise"},
		{func(p map[string]any) { delete(p, "ProvisionedDevices") }, "app-store"},
	} {
		p := adHocProfile()
		tc.change(p)
		prof, err := parseProfile(profile(t, p))
		if err != nil {
			t.Fatal(err)
		}
		if prof.Type != tc.want {
			t.Errorf("type %q, want %q", prof.Type, tc.want)
		}
	}
	// BER with indefinite lengths (which encoding/asn1 refuses) is read by
	// finding the plist.
	content, _ := plist.Marshal(adHocProfile(), plist.XMLFormat)
	ber := append([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x24, 0x80, 0x04, 0x82, 0x10, 0x00}, content...)
	ber = append(ber, 0, 0, 0, 0, 0, 0)
	prof, err := parseProfile(ber)
	if err != nil || prof.Name != "Demo Ad Hoc" {
		t.Errorf("BER profile: %+v, %v", prof, err)
	}
	if _, err := parseProfile([]byte("garbage")); err == nil {
		t.Error("garbage profile parsed")
	}
}

func TestAPK(t *testing.T) {
	data, err := os.ReadFile("testdata/helloworld.apk")
	if err != nil {
		t.Fatal(err)
	}
	info, err := read(t, data, "app-release.apk", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Kind: "apk", OS: "android", AppName: "HelloWorld", BundleID: "com.example.helloworld", Version: "1.0", Build: "1", MinOS: "15", TargetSDK: "24"}
	if !equalInfo(info, want) || len(info.Notes) != 0 {
		t.Errorf("got %+v, want %+v", info, want)
	}
	// The densest of the five launcher icons (res/mipmap-xxxhdpi-v4).
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	f, _ := zr.Open("res/mipmap-xxxhdpi-v4/ic_launcher.png")
	best, _ := io.ReadAll(f)
	if info.Icon == nil || !bytes.Equal(info.Icon.Data, best) || info.Icon.Width != 192 || info.Icon.MimeType != "image/png" {
		t.Errorf("icon: %+v", info.Icon)
	}

	// Without resources.arsc the manifest still reads; label and icon
	// (references into it) are missing, with a note.
	var entries []entry
	for _, f := range zr.File {
		if f.Name != "resources.arsc" {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			entries = append(entries, entry{f.Name, b})
		}
	}
	info, err = read(t, zipOf(t, entries...), "app.apk", DefaultLimits)
	if err != nil || info.BundleID != "com.example.helloworld" || info.AppName != "" || info.Icon != nil {
		t.Errorf("without resources.arsc: %+v, %v", info, err)
	}
}

// pb appends protobuf fields: a tag and, for []byte or string values, the
// length-delimited bytes; for int, a varint.
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

// aabManifest is an aapt2 protobuf manifest: XmlNode{element: XmlElement}.
func aabManifest() []byte {
	attr := func(ns, name, value string) []byte { return pb(1, ns, 2, name, 3, value) }
	// versionCode as aapt2 compiles it: an empty value and a decimal
	// primitive in the compiled item.
	versionCode := pb(1, androidNS, 2, "versionCode", 5, 0x0101021b, 6, pb(7, pb(6, 77)))
	usesSDK := pb(1, pb(3, "uses-sdk", 4, attr(androidNS, "minSdkVersion", "24"), 4, attr(androidNS, "targetSdkVersion", "34")))
	app := pb(1, pb(3, "application", 4, attr(androidNS, "label", "Bundle Demo"), 4, attr(androidNS, "icon", "@mipmap/ic_launcher")))
	manifest := pb(3, "manifest",
		4, attr("", "package", "com.example.bundle"),
		4, versionCode,
		4, attr(androidNS, "versionName", "3.0.0-beta"),
		5, pb(2, "\n  "), // a text node
		5, usesSDK,
		5, app)
	return pb(1, manifest)
}

func TestAAB(t *testing.T) {
	data := zipOf(t, entry{"BundleConfig.pb", nil}, entry{"base/manifest/AndroidManifest.xml", aabManifest()}, entry{"base/dex/classes.dex", []byte("dex\n035")})
	info, err := read(t, data, "app.aab", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Kind: "aab", OS: "android", AppName: "Bundle Demo", BundleID: "com.example.bundle", Version: "3.0.0-beta", Build: "77", MinOS: "24", TargetSDK: "34"}
	if !equalInfo(info, want) {
		t.Errorf("got %+v, want %+v", info, want)
	}
	if info.Icon != nil || len(info.Notes) != 1 || !strings.Contains(info.Notes[0], "icon") {
		t.Errorf("icon %v, notes %q: want no icon and a note saying so", info.Icon, info.Notes)
	}
	// Truncated protobuf is refused, not misread.
	m := aabManifest()
	if _, err := read(t, zipOf(t, entry{"base/manifest/AndroidManifest.xml", m[:len(m)-3]}), "app.aab", DefaultLimits); !errors.Is(err, ErrInvalid) {
		t.Errorf("truncated manifest: %v", err)
	}
}

func TestInvalidPackages(t *testing.T) {
	bomb := bytes.Repeat([]byte{0}, 8<<20) // deflates to a few KiB
	for _, tc := range []struct {
		name, file string
		data       []byte
		why        string
	}{
		{"not a zip", "a.ipa", []byte("MZ\x90\x00 not a zip"), "not a readable zip"},
		{"empty", "a.apk", nil, "not a readable zip"},
		{"no app", "a.ipa", zipOf(t, entry{"Payload/readme.txt", []byte("hi")}), "Payload/<name>.app/Info.plist"},
		{"app too deep", "a.ipa", zipOf(t, entry{"Payload/x/Demo.app/Info.plist", []byte("hi")}), "Payload/<name>.app/Info.plist"},
		{"broken plist", "a.ipa", zipOf(t, entry{"Payload/Demo.app/Info.plist", []byte("<plist><dict><key>")}), "not a property list"},
		{"no bundle id", "a.ipa", zipOf(t, entry{"Payload/Demo.app/Info.plist", []byte(`<plist><dict><key>CFBundleName</key><string>x</string></dict></plist>`)}), "CFBundleIdentifier"},
		{"plist bomb", "a.ipa", zipOf(t, entry{"Payload/Demo.app/Info.plist", bomb}), "more than"},
		{"no manifest", "a.apk", zipOf(t, entry{"classes.dex", []byte("dex")}), "no AndroidManifest.xml"},
		{"text manifest", "a.apk", zipOf(t, entry{"AndroidManifest.xml", []byte("<manifest package='x'/>")}), "not binary Android XML"},
		{"manifest bomb", "a.apk", zipOf(t, entry{"AndroidManifest.xml", bomb}), "more than"},
		{"no aab manifest", "a.aab", zipOf(t, entry{"base/dex/classes.dex", nil}), "not an Android App Bundle"},
		{"not a package", "a.zip", zipOf(t), "not an IPA, APK or AAB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, tc.data, tc.file, DefaultLimits)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("err = %v, want ErrInvalid saying %q", err, tc.why)
			}
		})
	}
}

// A zip whose entry claims a small size but inflates to much more: the
// read stops at the limit, whatever the header says.
func TestLyingEntrySize(t *testing.T) {
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	fw.Write(bytes.Repeat([]byte("A"), 64<<20))
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "AndroidManifest.xml", Method: zip.Deflate,
		CompressedSize64: uint64(raw.Len()), UncompressedSize64: 1000, CRC32: 0})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw.Bytes())
	zw.Close()
	_, err = read(t, buf.Bytes(), "a.apk", DefaultLimits)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}

func TestArchiveLimits(t *testing.T) {
	var entries []entry
	for i := 0; i < 300; i++ {
		entries = append(entries, entry{strings.Repeat("d/", 20) + string(rune('a'+i%26)) + strings.Repeat("x", i), nil})
	}
	data := zipOf(t, entries...)
	lim := DefaultLimits
	lim.DirectoryBytes = 4 << 10
	if _, err := read(t, data, "a.ipa", lim); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "zip directory") {
		t.Errorf("directory budget: %v", err)
	}
	lim = DefaultLimits
	lim.Entries = 100
	if _, err := read(t, data, "a.ipa", lim); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "entries") {
		t.Errorf("entry count: %v", err)
	}
	// The total inflate budget holds across entries: the profile (read
	// last) finds the budget spent, and the package still reads.
	lim = DefaultLimits
	lim.Inflate = 900
	info, err := read(t, ipa(t, plist.BinaryFormat), "a.ipa", lim)
	if err != nil || info.Profile != nil || !strings.Contains(strings.Join(info.Notes, " "), "inflates to more than") {
		t.Errorf("inflate budget: profile %v, notes %q, err %v", info.Profile, info.Notes, err)
	}
}

func TestIconPixelLimit(t *testing.T) {
	lim := DefaultLimits
	lim.IconPixels = 50
	info, err := read(t, ipa(t, plist.XMLFormat), "a.ipa", lim)
	if err != nil || info.Icon != nil || !strings.Contains(strings.Join(info.Notes, " "), "too large") {
		t.Errorf("icon %v, notes %q, err %v", info.Icon != nil, info.Notes, err)
	}
}

func TestStandardPNGIconKept(t *testing.T) {
	var std bytes.Buffer
	png.Encode(&std, testIcon())
	data := zipOf(t,
		entry{"Payload/Demo.app/Info.plist", []byte(`<plist><dict><key>CFBundleIdentifier</key><string>com.x</string></dict></plist>`)},
		entry{"Payload/Demo.app/Icon-60@3x.png", std.Bytes()})
	info, err := read(t, data, "Demo.ipa", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if info.AppName != "Demo" { // from the bundle's directory name
		t.Errorf("app name %q", info.AppName)
	}
	if info.Icon == nil || !bytes.Equal(info.Icon.Data, std.Bytes()) {
		t.Errorf("a standard PNG icon should be kept as it is")
	}
}

func FuzzRead(f *testing.F) {
	f.Add(ipa(f, plist.BinaryFormat), "ipa")
	f.Add(zipOf(f, entry{"base/manifest/AndroidManifest.xml", aabManifest()}), "aab")
	if apk, err := os.ReadFile("testdata/helloworld.apk"); err == nil {
		f.Add(apk, "apk")
	}
	f.Fuzz(func(t *testing.T, data []byte, kind string) {
		info, err := Read(bytes.NewReader(data), int64(len(data)), "x."+kind, DefaultLimits)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not ErrInvalid: %v", err)
		}
		if err == nil && info.BundleID == "" {
			t.Fatal("a package without an identifier read as valid")
		}
	})
}
