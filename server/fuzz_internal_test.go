package server

import (
	"bytes"
	"hangar/mail"
	"image"
	"mime"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzFileName: whatever a client sends as a file name, the stored name is
// a clean base name, and the Content-Disposition built from it (or from any
// string at all) is one header line that parses back to the exact name.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"app.ipa", "../../etc/passwd", `C:\x\y.exe`, "a\x00b", "crlf\r\nSet-Cookie: a=b",
		"\xff\xfe", "naïve 日本語.zip", `q"uote.apk`, strings.Repeat("é", 300), "%41.zip", "", "..", "invoice\u202egpj.exe", "a\u2066b\u2069\u200f.apk"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := safeFileName(raw)
		if err == nil {
			if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) ||
				strings.ContainsAny(name, `/\`) || strings.IndexFunc(name, unicode.IsControl) >= 0 ||
				strings.IndexFunc(name, isBidiControl) >= 0 {
				t.Fatalf("safeFileName(%q) = %q", raw, name)
			}
			cd := contentDisposition(name)
			_, params, perr := mime.ParseMediaType(cd)
			if perr != nil || params["filename"] != name {
				t.Fatalf("Content-Disposition %q for %q: parsed %q, %v", cd, name, params["filename"], perr)
			}
		}
		if cd := contentDisposition(raw); strings.ContainsAny(cd, "\r\n\x00") {
			t.Fatalf("contentDisposition(%q) = %q: header injection", raw, cd)
		}
	})
}

// Bidirectional overrides are dropped: the name reads as it is stored.
func TestFileNameBidiStripped(t *testing.T) {
	for raw, want := range map[string]string{
		"invoice\u202egpj.exe":            "invoicegpj.exe",
		"\u2067app\u2069.apk":             "app.apk",
		"build\u200e\u200f\u061c (1).ipa": "build (1).ipa",
	} {
		if got, err := safeFileName(raw); err != nil || got != want {
			t.Errorf("safeFileName(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// A pasted or uploaded CSV of addresses: whatever the bytes, the import
// is all valid addresses, bounded in number, or refused.
func FuzzAddressesCSV(f *testing.F) {
	f.Add("email\nana@example.com\n\nbo@example.com,Bo\n")
	f.Add("\"unterminated\nx@y.co")
	f.Add("a@b.co\r\nBcc: c@d.co\n")
	f.Fuzz(func(t *testing.T, body string) {
		addrs, err := readAddressesCSV(strings.NewReader(body))
		if err != nil {
			return
		}
		if len(addrs) > maxCSVLines {
			t.Fatalf("%d addresses", len(addrs))
		}
		for _, a := range addrs {
			if _, verr := mail.ValidAddress(a); verr != nil || strings.ContainsAny(a, "\r\n,") {
				t.Fatalf("imported %q", a)
			}
		}
	})
}

// FuzzDeviceOf: whatever a User-Agent says, a device is one of the known
// platforms with a short, printable model.
func FuzzDeviceOf(f *testing.F) {
	for _, ua := range deviceAgents {
		f.Add(ua.ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		d := deviceOf(ua)
		switch d.Platform {
		case "ios", "android", "macos", "windows", "linux", "other":
		default:
			t.Fatalf("platform %q", d.Platform)
		}
		if len(d.Model) > maxModel || strings.IndexFunc(d.Model, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			t.Fatalf("model %q", d.Model)
		}
	})
}

var deviceAgents = []struct {
	ua   string
	want device
}{
	{"com.apple.appstored/1.0 iOS/17.5 model/iPhone16,2 hwmodel/D83AP build/21F79 (6; dt:300) AMS/1", device{"ios", "iPhone16,2"}},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", device{"ios", "iPhone"}},
	{"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", device{"ios", "iPad"}},
	{"Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240305.019) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Mobile Safari/537.36", device{"android", "Pixel 8"}},
	{"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36", device{"android", "SM-S918B"}},
	{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36", device{"android", ""}},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", device{"macos", ""}},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", device{"windows", ""}},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", device{"linux", ""}},
	{"curl/8.5.0", device{"other", ""}},
}

// What devices say of themselves, as install records keep it.
func TestDeviceOf(t *testing.T) {
	for _, c := range deviceAgents {
		if got := deviceOf(c.ua); got != c.want {
			t.Errorf("%.60s: %+v, want %+v", c.ua, got, c.want)
		}
	}
}

// FuzzScreenshot: whatever a tester uploads as a screenshot, it is
// refused or kept as the PNG or JPEG it decodes as, within the bounds.
func FuzzScreenshot(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Add([]byte("GIF89a"))
	f.Add(tinyPNG)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, ext, err := readScreenshot(bytes.NewReader(b))
		if err != nil {
			return
		}
		cfg, format, derr := image.DecodeConfig(bytes.NewReader(out))
		if derr != nil || format != ext || len(out) > maxScreenshotBytes || cfg.Width*cfg.Height > maxScreenshotPixels {
			t.Fatalf("kept %d bytes as %q: %v %+v", len(out), ext, derr, cfg)
		}
	})
}

// tinyPNG is a 1×1 PNG.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
