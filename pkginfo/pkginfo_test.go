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
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/shogo82148/androidbinary"
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
			wantProf := Profile{Name: "Demo Ad Hoc", Team: "Example Corp", TeamID: "ABCDE12345", Expires: expires, Created: pkgtest.ProfileCreated, Type: "ad-hoc", Devices: 3,
				DeviceIDs: []string{pkgtest.ProfileDevice, "00008030-002A2B3C4D5E6F71", "00008110-000C1D2E3F405162"}}
			if info.Profile == nil || !reflect.DeepEqual(*info.Profile, wantProf) {
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
		prof, err := parseProfile(profile(t, p), newMemBudget(DefaultLimits.Memory))
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
	prof, err := parseProfile(ber, newMemBudget(DefaultLimits.Memory))
	if err != nil || prof.Name != "Demo Ad Hoc" {
		t.Errorf("BER profile: %+v, %v", prof, err)
	}
	if _, err := parseProfile([]byte("garbage"), newMemBudget(DefaultLimits.Memory)); err == nil {
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
	f.Add(pkgtest.APK(pkgtest.AXML(pkgtest.Manifest("com.a", "1", 1, "A"), 0), nil), "apk")
	if apk, err := os.ReadFile("testdata/helloworld.apk"); err == nil {
		f.Add(apk, "apk")
	}
	f.Fuzz(func(t *testing.T, data []byte, kind string) {
		var info Info
		var err error
		withinBudget(t, len(data), func(*memBudget) {
			info, err = Read(bytes.NewReader(data), int64(len(data)), "x."+kind, DefaultLimits)
		})
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not ErrInvalid: %v", err)
		}
		if err == nil && info.BundleID == "" {
			t.Fatal("a package without an identifier read as valid")
		}
	})
}

// withinBudget runs f and fails when it allocates more than its memory
// budget accounts for: twice what was charged (the charges are estimates),
// plus a little per input byte for structures proportional to the input
// that are not charged (the zip directory, the pools' offset checks).
// A parser that allocates what the input declares rather than what it
// holds fails here long before it could exhaust the machine.
func withinBudget(t *testing.T, inputLen int, f func(mem *memBudget)) {
	t.Helper()
	mem := newMemBudget(DefaultLimits.Memory)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f(mem)
	runtime.ReadMemStats(&after)
	charged := uint64(mem.limit - max(mem.left, 0))
	if f := after.TotalAlloc - before.TotalAlloc; f > 2*charged+64*uint64(inputLen)+1<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte input; %d were charged to the budget", f, inputLen, charged)
	}
}

// The parsers of untrusted bytes, one by one, each within its budget.
func FuzzPlist(f *testing.F) {
	f.Add(pkgtest.InfoPlistDAG(3, 3))
	f.Add(pkgtest.InfoPlistDeep(5))
	for _, format := range []int{plist.XMLFormat, plist.BinaryFormat} {
		b, _ := plist.Marshal(map[string]any{"a": []any{"x", int64(1), 2.5, true, map[string]any{"b": "ü"}}}, format)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		withinBudget(t, len(data), func(mem *memBudget) { decodePlist(data, mem) })
	})
}

func FuzzAXML(f *testing.F) {
	f.Add(pkgtest.AXML(pkgtest.Manifest("com.a", "1.0", 3, "A"), 0))
	f.Add(pkgtest.AXML(pkgtest.Manifest("com.a", "1.0", 3, "A"), 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		withinBudget(t, len(data), func(mem *memBudget) { decodeAXML(data, mem) })
	})
}

func FuzzTable(f *testing.F) {
	f.Add(pkgtest.ARSCPoolBomb(10))
	if apk, err := os.ReadFile("testdata/helloworld.apk"); err == nil {
		a, _ := openZip(bytes.NewReader(apk), int64(len(apk)), DefaultLimits)
		if res, ok, _ := a.readName("resources.arsc", DefaultLimits.Resources); ok {
			f.Add(res)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		withinBudget(t, len(data), func(mem *memBudget) {
			defer func() { recover() }() // androidbinary's panics are Read's to turn into errors
			if checkTable(data, mem) == nil {
				androidbinary.NewTableFile(bytes.NewReader(data))
			}
		})
	})
}

func FuzzAABManifest(f *testing.F) {
	f.Add(pkgtest.AABManifest())
	f.Fuzz(func(t *testing.T, data []byte) {
		withinBudget(t, len(data), func(mem *memBudget) { decodeXMLNode(data, 0, mem) })
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
	webp := pkgtest.WebP(96, 48, 24)
	data := zipOf(t, entry{"res/a.webp", webp}, entry{"res/b.webp", []byte("RIFF....JPEG")}, entry{"res/c.png", []byte("not a png")})
	a, err := openZip(bytes.NewReader(data), int64(len(data)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if icon, err := a.apkBitmap("res/a.webp"); err != nil || icon.MimeType != "image/webp" || !bytes.Equal(icon.Data, webp) || icon.Width != 96 || icon.Height != 48 {
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

// allocated returns the bytes f allocates (the whole process's, so run it
// alone).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Packages of a few hundred bytes that made the previous parsers allocate
// gigabytes: each is refused or read within the memory budget.
func TestPackageBombs(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name, file string
		data       []byte
		wantErr    string // "" when the package reads, with what it says
		wantID     string
	}{
		{"plist DAG", "b.ipa", pkgtest.IPAWithInfoPlist(pkgtest.InfoPlistDAG(9, 14)), "more than 100000 values", ""},
		{"plist DAG depth 6", "b.ipa", pkgtest.IPAWithInfoPlist(pkgtest.InfoPlistDAG(6, 14)), "more than 100000 values", ""},
		{"plist nesting", "b.ipa", pkgtest.IPAWithInfoPlist(pkgtest.InfoPlistDeep(200_000)), "nested more than 32 deep", ""},
		{"manifest string pool", "b.apk", pkgtest.APK(pkgtest.AXML(pkgtest.Manifest("com.bomb", "1.0", 7, "Bomb"), 1_000_000), nil), "", "com.bomb"},
		{"resources.arsc string pool", "b.apk", pkgtest.APK(pkgtest.AXML(pkgtest.Manifest("com.bomb", "1.0", 7, "Bomb"), 0), pkgtest.ARSCPoolBomb(30_000)), "", "com.bomb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.data) > 5*mib {
				t.Fatalf("the bomb is %d bytes", len(c.data))
			}
			var info Info
			var err error
			n := allocated(func() { info, err = read(t, c.data, c.file, DefaultLimits) })
			if c.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want ErrInvalid saying %q", err, c.wantErr)
				}
			} else if err != nil || info.BundleID != c.wantID {
				t.Fatalf("got %+v, %v; want %s read", info, err, c.wantID)
			}
			if n > uint64(DefaultLimits.Memory) {
				t.Fatalf("reading a %d-byte package allocated %d MiB, more than the %d MiB budget", len(c.data), n/mib, DefaultLimits.Memory/mib)
			}
			t.Logf("%d bytes: allocated %.1f MiB, %v", len(c.data), float64(n)/mib, err)
		})
	}
}

// An AAB's launcher bitmap is chosen by density, not bytes: a noisy mdpi
// PNG can be bigger than a flat hdpi one.
func TestAABIconByDensity(t *testing.T) {
	noisy := make([]byte, 5000)
	rand.NewChaCha8([32]byte{2}).Read(noisy)
	data := zipOf(t, entry{"base/res/mipmap-mdpi/i.png", noisy}, entry{"base/res/mipmap-hdpi/i.png", make([]byte, 3600)}, entry{"base/res/mipmap/i.png", make([]byte, 9000)})
	a, err := openZip(bytes.NewReader(data), int64(len(data)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	vals := []pbValue{{file: "res/mipmap-mdpi/i.png", density: 160}, {file: "res/mipmap-hdpi/i.png", density: 240}, {file: "res/mipmap/i.png"}}
	if got := a.largestBitmap(vals); got != "base/res/mipmap-hdpi/i.png" {
		t.Errorf("got %s, want the hdpi bitmap", got)
	}
}

// A manifest without versionCode has no build number (not "0"); one
// whose attribute names were stripped is read through its resource map.
func TestAPKWithoutVersionCode(t *testing.T) {
	m := pkgtest.Manifest("com.a", "2.0", 0, "A")
	m.Attrs = m.Attrs[:1]
	info, err := read(t, pkgtest.APK(pkgtest.AXML(m, 0), nil), "a.apk", DefaultLimits)
	if err != nil || info.Build != "" || info.Version != "" || info.BundleID != "com.a" || info.AppName != "A" || info.MinOS != "21" {
		t.Fatalf("got %+v, %v; want com.a with no version or build", info, err)
	}
}

// A profile is decoded within the same limits as Info.plist: one that
// expands is not read, and the package is read without it.
func TestProfileBomb(t *testing.T) {
	data := pkgtest.IPAWithInfoPlist(pkgtest.InfoPlist("com.bomb"), pkgtest.Entry{Name: "embedded.mobileprovision", Data: pkgtest.SignedProfile(pkgtest.InfoPlistDAG(9, 14))})
	var info Info
	var err error
	if n := allocated(func() { info, err = read(t, data, "b.ipa", DefaultLimits) }); n > 16<<20 {
		t.Errorf("allocated %d MiB", n>>20)
	}
	if err != nil || info.BundleID != "com.bomb" || info.Profile != nil || len(info.Notes) == 0 || !strings.Contains(strings.Join(info.Notes, " "), "more than 100000 values") {
		t.Fatalf("got %+v, %v", info, err)
	}
}
