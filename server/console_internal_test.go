package server

import (
	"net/url"
	"strings"
	"testing"
)

// next= after sign-in stays on this site whatever a browser would make of
// it. Before, "/%09/host/path" came back as Location "/\t/host/path",
// which browsers read as //host/path.
func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/w/acme/p/app?page=2", "/w/acme/p/app?page=2"},
		{"/d/acme/beta", "/d/acme/beta"},
		{"/a%20b", "/a%20b"},
		{"/\t/evil.example/path", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/x\\y", "/"},
		{"https://evil.example/", "/"},
		{"evil.example", "/"},
		{"", "/"},
		{"/\x7f/evil.example", "/"},
		{"/%2F/evil.example", "/"}, // decodes to //evil.example: refused rather than trusted to stay encoded
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/w/acme", "/\t/evil", "//x", "/%09/h/p", "/a?b=c#d", "/.//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the site", next, got)
		}
		// What a browser does: drop tabs and newlines, then resolve
		// against this site.
		base, _ := url.Parse("https://hangar.example/signin")
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q does not parse: %v", next, got, err)
		}
		if u := base.ResolveReference(ref); u.Host != "hangar.example" {
			t.Fatalf("safeNext(%q) = %q resolves to %s", next, got, u)
		}
	})
}
