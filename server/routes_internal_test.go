package server

import (
	"slices"
	"strings"
	"testing"

	"hangar/config"
)

// Each row's renderer is its path's front: /v1/ the organization and
// Integrations APIs, the console's paths the console, /p /d /trust
// /enroll the tester pages, the rest the workspace API's JSON (a request
// no route matched is judged by the same rule, from its path).
func TestRendererByFront(t *testing.T) {
	s := &Server{cfg: config.Default()}
	console := []string{"/signin", "/signout", "/account", "/users", "/tokens", "/static/", "/workspace", "/w/"}
	for _, rt := range s.table() {
		want := workspaceFront
		switch {
		case strings.HasPrefix(rt.pattern, "/v1/"):
			want = orgFront
		case rt.pattern == "/" || slices.ContainsFunc(console, func(p string) bool { return rt.pattern == strings.TrimSuffix(p, "/") || strings.HasPrefix(rt.pattern, p) }):
			want = consoleFront
		case slices.ContainsFunc([]string{"/p/", "/d/", "/trust", "/enroll/"}, func(p string) bool { return strings.HasPrefix(rt.pattern, p) }):
			want = testerFront
		}
		if rt.render != want {
			t.Errorf("%s %s: renderer %d, want %d", rt.method, rt.pattern, rt.render, want)
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
