package main

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The import rule the README's drawing ("How the code is organised")
// states, as a test, after Go's own go/build/deps_test.go: each package of
// the module, and the packages of the module it may import (outside tests).
// A package that is not listed here fails the test: draw it in the README
// and add it.
var allowedImports = map[string][]string{
	"hangar":                  {"cli"},
	"cli":                     {"server", "backup", "fsck", "webhook", "mail", "directory", "depot", "store", "blob", "pkginfo", "certs", "cms", "config", "auth", "urlsign", "sdnotify", "pace"},
	"server":                  {"backup", "fsck", "mail", "directory", "depot", "store", "pkginfo", "certs", "cms", "config", "auth", "urlsign", "sdnotify", "pace"}, // never blob: changes go through depot
	"backup":                  {"depot", "store", "blob", "config", "pace"},
	"fsck":                    {"depot", "store", "blob", "certs", "config", "pace"},
	"webhook":                 {"store", "config"},
	"directory":               {"config"},
	"mail":                    {"store", "config"},
	"depot":                   {"store", "blob", "pkginfo", "config", "pace"},
	"store":                   {"config", "pace"}, // never blob
	"blob":                    {"config", "pace"}, // never store
	"pkginfo":                 {"cms"},            // neither store nor blob
	"certs":                   {"config"},
	"cms":                     {},
	"config":                  {},
	"auth":                    {},
	"urlsign":                 {},
	"sdnotify":                {},
	"pace":                    {},
	"hangartest":              {"store"}, // tests only
	"pkginfo/pkgtest":         {},        // tests only
	"pkginfo/pkgtest/demoipa": {"pkginfo/pkgtest"},
	"bench/scale":             {"depot", "store", "blob"},
	"bench/redirect":          {},
	"bench/sha256rate":        {},
	"bench/uploadphases":      {"blob"},
	"oidctest":                {"config", "depot", "server", "store"}, // tests only, a module of its own (Dex's dependencies)
}

// noHTTP are packages that know no HTTP: the consistency protocol and
// storage are the same for every front.
var noHTTP = []string{"depot", "store", "pkginfo", "auth", "pace", "config", "cms", "mail", "directory"}

func TestImportRule(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if _, none := err.(*build.NoGoError); none {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.ToSlash(path)
		if path == "." {
			name = "hangar"
		}
		seen[name] = true
		allowed, ok := allowedImports[name]
		if !ok {
			t.Errorf("package %s is not in the import rule: draw it in the README and list it here", name)
			return nil
		}
		for _, imp := range pkg.Imports {
			if imp == "net/http" && slices.Contains(noHTTP, name) {
				t.Errorf("%s imports net/http, which it must not know", name)
			}
			inner, ok := strings.CutPrefix(imp, "hangar/")
			if ok && !slices.Contains(allowed, inner) {
				t.Errorf("%s imports %s, which the README's drawing does not allow", name, inner)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range allowedImports {
		if !seen[name] {
			t.Errorf("the import rule lists %s, which is not a package of the module", name)
		}
	}
}
