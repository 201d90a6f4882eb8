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
