package server

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hangar/config"
)

// Each row's renderer is its path's front: /v1/ the organization and
// Integrations APIs, /v0.1/ and /upload/ App Center's, the console's paths the console, /p /d /t /apps /trust
// /enroll the tester pages, the rest the workspace API's JSON (a request
// no route matched is judged by the same rule, from its path).
func TestRendererByFront(t *testing.T) {
	s := &Server{cfg: config.Default()}
	console := []string{"/signin", "/signout", "/account", "/users", "/tokens", "/static/", "/workspace", "/w/",
		"/forgot", "/invite/", "/reset/", "/confirm-email/", "/invitations", "/audit"}
	for _, rt := range s.table() {
		want := workspaceFront
		switch {
		case strings.HasPrefix(rt.pattern, "/v1/"):
			want = orgFront
		case strings.HasPrefix(rt.pattern, "/v0.1/"), strings.HasPrefix(rt.pattern, "/upload/"):
			want = appCenterFront
		case rt.pattern == "/" || slices.ContainsFunc(console, func(p string) bool {
			return rt.pattern == strings.TrimSuffix(p, "/") || strings.HasPrefix(rt.pattern, p)
		}):
			want = consoleFront
		case slices.ContainsFunc([]string{"/p/", "/d/", "/t/", "/apps", "/trust", "/enroll/"}, func(p string) bool { return strings.HasPrefix(rt.pattern, p) }):
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

// An error a handler returns is answered in its row's front's shape, in
// one place: a store failure on a console page (the device export) or a
// distribution's page is a page, not JSON as it was; the APIs keep their
// JSON shapes; an answer already started is not answered twice.
func TestAnswerErrorByFront(t *testing.T) {
	s := &Server{cfg: config.Default(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	failure := errors.New("store: the disk is on fire")
	for _, tt := range []struct {
		front       renderer
		accept      string
		contentType string
		body        string
	}{
		{consoleFront, "text/html", "text/html; charset=utf-8", "internal error"},
		{testerFront, "text/html", "text/html; charset=utf-8", "Something went wrong"},
		{testerFront, "*/*", "application/json", `"error":"INTERNAL"`},
		{workspaceFront, "", "application/json", `"error":"INTERNAL"`},
		{orgFront, "", "application/json", `"status":false`},
	} {
		r := httptest.NewRequest("GET", "/somewhere", nil)
		r.Header.Set("Accept", tt.accept)
		w := httptest.NewRecorder()
		s.answerError(&logWriter{ResponseWriter: w}, r, tt.front, &call{}, failure)
		if w.Code != 500 || !strings.HasPrefix(w.Header().Get("Content-Type"), tt.contentType) || !strings.Contains(w.Body.String(), tt.body) || strings.Contains(w.Body.String(), "on fire") {
			t.Errorf("front %d, Accept %q: %d %s %q", tt.front, tt.accept, w.Code, w.Header().Get("Content-Type"), w.Body.String())
		}
	}
	w := httptest.NewRecorder()
	lw := &logWriter{ResponseWriter: w}
	lw.WriteHeader(http.StatusOK)
	s.answerError(lw, httptest.NewRequest("GET", "/x", nil), workspaceFront, &call{}, failure)
	if w.Body.Len() != 0 {
		t.Errorf("an error after the answer started was written: %q", w.Body.String())
	}
}

// The operations several fronts share (ops_*.go) know no HTTP: no
// ResponseWriter, no Request. A front reads its request and writes its
// answer; the operation in between is the same for all of them.
func TestOpsKnowNoHTTP(t *testing.T) {
	files, err := filepath.Glob("ops_*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no ops files: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "http" && (sel.Sel.Name == "ResponseWriter" || sel.Sel.Name == "Request") {
					t.Errorf("%s: uses http.%s", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}
}
