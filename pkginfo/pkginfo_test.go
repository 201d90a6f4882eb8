package pkginfo

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"howett.net/plist"

	"hangar/pkginfo/pkgtest"
)

type entry struct {
	name string
	data []byte
}

func zipOf(_ testing.TB, entries ...entry) []byte {
	es := make([]pkgtest.Entry, len(entries))
	for i, e := range entries {
		es[i] = pkgtest.Entry{Name: e.name, Data: e.data}
	}
	return pkgtest.Zip(es...)
}

func ipa(_ testing.TB, format int) []byte {
	app := pkgtest.DemoApp
	app.PlistFormat = format
	return pkgtest.IPA(app)
}

func testIcon() *image.NRGBA { return pkgtest.Icon() }

func profile(_ testing.TB, p map[string]any) []byte { return pkgtest.Profile(p) }

func adHocProfile() map[string]any { return pkgtest.AdHocProfile() }

var expires = pkgtest.ProfileExpires

func read(t testing.TB, data []byte, name string, lim Limits) (Info, error) {
	t.Helper()
	return Read(bytes.NewReader(data), int64(len(data)), name, lim)
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

func TestAAB(t *testing.T) {
	info, err := read(t, pkgtest.AAB(), "app.aab", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	// The label is the default configuration's value of @string/app_name.
	want := Info{Kind: "aab", OS: "android", AppName: "Bundle Demo", BundleID: "com.example.bundle", Version: "3.0.0-beta", Build: "77", MinOS: "24", TargetSDK: "34"}
	if !equalInfo(info, want) || len(info.Notes) != 0 {
		t.Errorf("got %+v, want %+v", info, want)
	}
	if info.Icon == nil || info.Icon.MimeType != "image/webp" || !bytes.Equal(info.Icon.Data, pkgtest.AABIcon) {
		t.Errorf("icon %+v: want the xxxhdpi WebP", info.Icon)
	}

	// An adaptive icon falls back to its foreground layer's densest bitmap.
	info, err = read(t, pkgtest.AABAdaptive(), "app.aab", DefaultLimits)
	if err != nil || info.Icon == nil || info.Icon.Width != 64 || info.Icon.MimeType != "image/png" {
		t.Errorf("adaptive icon: %+v, %v", info.Icon, err)
	}

	// Without resources.pb: no label or icon, and a note saying so.
	m := pkgtest.AABManifest()
	info, err = read(t, zipOf(t, entry{"base/manifest/AndroidManifest.xml", m}), "app.aab", DefaultLimits)
	if err != nil || info.AppName != "" || info.Icon != nil || len(info.Notes) != 1 || !strings.Contains(info.Notes[0], "resources.pb") {
		t.Errorf("without resources.pb: %+v, %v", info, err)
	}
	// Truncated protobuf is refused, not misread.
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
	fw.Write(bytes.Repeat([]byte("A"), 8<<20)) // twice the 4 MiB entry limit
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
	f.Add(zipOf(f, entry{"base/manifest/AndroidManifest.xml", pkgtest.AABManifest()}), "aab")
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

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// Reading a package touches its directory and the few entries it needs,
// never the app's bulk: the cost does not grow with the package.
func TestReadTouchesOnlyMetadata(t *testing.T) {
	bulk := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{1}).Read(bulk) // incompressible: the archive is as big
	data := pkgtest.IPA(pkgtest.DemoApp, pkgtest.Entry{Name: "Payload/Demo.app/Assets.car", Data: bulk})
	cr := &countingReader{r: bytes.NewReader(data)}
	info, err := Read(cr, int64(len(data)), "Demo.ipa", DefaultLimits)
	if err != nil || info.Icon == nil || info.Profile == nil {
		t.Fatalf("%+v, %v", info, err)
	}
	if len(data) < 4<<20 || cr.n > 64<<10 {
		t.Fatalf("read %d bytes of a %d-byte package", cr.n, len(data))
	}
}

func BenchmarkRead(b *testing.B) {
	apk, err := os.ReadFile("testdata/helloworld.apk")
	if err != nil {
		b.Fatal(err)
	}
	for _, pkg := range []struct {
		name string
		data []byte
	}{{"Demo.ipa", pkgtest.IPA(pkgtest.DemoApp)}, {"helloworld.apk", apk}, {"app.aab", pkgtest.AAB()}} {
		b.Run(pkg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Read(bytes.NewReader(pkg.data), int64(len(pkg.data)), pkg.name, DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Launcher icons may be WebP: served as they are once the container checks
// out (Go has no WebP decoder to check more).
func TestAPKBitmapWebP(t *testing.T) {
	webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8L"), make([]byte, 24)...)
	data := zipOf(t, entry{"res/a.webp", webp}, entry{"res/b.webp", []byte("RIFF....JPEG")}, entry{"res/c.png", []byte("not a png")})
	a, err := openZip(bytes.NewReader(data), int64(len(data)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if icon, err := a.apkBitmap("res/a.webp"); err != nil || icon.MimeType != "image/webp" || !bytes.Equal(icon.Data, webp) {
		t.Errorf("WebP icon: %+v, %v", icon, err)
	}
	for _, p := range []string{"res/b.webp", "res/c.png", "res/missing.png"} {
		if icon, err := a.apkBitmap(p); err == nil {
			t.Errorf("%s accepted as an icon: %+v", p, icon)
		}
	}
}

// A parser that panics on a hostile file (none is known: this stands in
// for one) gives ErrInvalid, not a crash of the server.
func TestParserPanicIsInvalid(t *testing.T) {
	orig := readers["apk"]
	defer func() { readers["apk"] = orig }()
	readers["apk"] = func(*archive) (Info, error) { panic("index out of range [7] with length 3") }
	_, err := read(t, zipOf(t, entry{"AndroidManifest.xml", nil}), "a.apk", DefaultLimits)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "the APK could not be parsed") {
		t.Fatalf("err = %v", err)
	}
}
