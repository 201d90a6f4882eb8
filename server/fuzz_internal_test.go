package server

import (
	"hangar/mail"
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
