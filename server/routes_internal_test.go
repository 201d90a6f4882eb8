package server

import (
	"strings"
	"testing"

	"hangar/config"
)

// Every organization API route answers errors in that API's envelope, and
// no other route does: the dialect is the route's, and today it matches
// the /v1/ prefix a request no route matched is judged by.
func TestErrorDialectByRoute(t *testing.T) {
	s := &Server{cfg: config.Default()}
	for _, rt := range s.table() {
		if got, want := rt.flags&org != 0, strings.HasPrefix(rt.pattern, "/v1/"); got != want {
			t.Errorf("%s %s: organization dialect %v, want %v", rt.method, rt.pattern, got, want)
		}
	}
}

// No two rows of the table share a method and a pattern: mount would merge
// them and serve the first, silently.
func TestRoutesUnique(t *testing.T) {
	s := &Server{cfg: config.Default()}
	seen := map[string]bool{}
	for _, rt := range s.table() {
		k := rt.method + " " + rt.pattern
		if seen[k] {
			t.Errorf("%s is in the route table twice", k)
		}
		seen[k] = true
	}
}
