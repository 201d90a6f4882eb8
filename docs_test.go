package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The README is the front door: under 300 lines, the rest in docs/ by
// reader. Every relative link of every Markdown file in the repository
// resolves: the file exists, and a #fragment names one of its headings
// (as GitHub makes them).
func TestDocumentationLinks(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n >= 300 {
		t.Errorf("README.md has %d lines; the front door stays under 300 (move the rest to docs/)", n)
	}
	var files []string
	filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return nil
	})
	if len(files) < 8 {
		t.Fatalf("found only %v", files)
	}
	anchors := map[string]map[string]bool{}
	headingsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		a := map[string]bool{}
		for _, line := range prose(string(b)) {
			if m := heading.FindStringSubmatch(line); m != nil {
				slug := githubSlug(m[1])
				for n := 1; a[slug]; n++ { // GitHub numbers repeats
					slug = githubSlug(m[1]) + "-" + string(rune('0'+n))
				}
				a[slug] = true
			}
		}
		anchors[path] = a
		return a
	}
	checked := 0
	for _, file := range files {
		b, _ := os.ReadFile(file)
		for _, line := range prose(string(b)) {
			for _, m := range mdLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, frag, _ := strings.Cut(target, "#")
				resolved := file
				if path != "" {
					resolved = filepath.Join(filepath.Dir(file), path)
					if _, err := os.Stat(resolved); err != nil {
						t.Errorf("%s: link to %s: no such file", file, target)
						continue
					}
				}
				if frag != "" && strings.HasSuffix(resolved, ".md") && !headingsOf(resolved)[frag] {
					t.Errorf("%s: link to %s: %s has no heading #%s", file, target, resolved, frag)
				}
				checked++
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked only %d links: is the link pattern still right?", checked)
	}
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	inlineCode = regexp.MustCompile("`[^`]*`")
	heading    = regexp.MustCompile(`^#{1,6} (.+?)\s*$`)
)

// prose returns the lines of a Markdown text outside fenced code blocks.
func prose(s string) []string {
	var out []string
	fenced := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, line)
		}
	}
	return out
}

// githubSlug is a heading's anchor as GitHub makes it: lower case, spaces
// to hyphens, punctuation other than hyphens and underscores dropped.
func githubSlug(h string) string {
	h = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(h, "$1") // a link's text
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
