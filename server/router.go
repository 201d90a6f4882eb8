package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// mountPoint is one httprouter registration and the routes it serves, most
// specific first.
type mountPoint struct {
	method, pattern string
	routes          []route
}

// mount turns the table into httprouter registrations.
//
// httprouter refuses a wildcard beside a static segment at the same place
// (the workspace API's …/build/:buildId/file beside …/build/file/:fileId, and
// …/:publicLinkId/:fileName beside …/:publicLinkId/qr: both versions of
// httprouter panic at registration, and net/http's ServeMux refuses the
// first pair as ambiguous too). Such routes are registered from the first ambiguous
// segment on as positional wildcards (:p7, :p8, …) shared by all of them;
// at request time dispatch picks the route whose own pattern matches, static
// segments first, and binds the pattern's own parameter names.
func mount(table []route) []mountPoint {
	var points []mountPoint
	index := map[string]int{}
	for _, rt := range table {
		segs := splitPath(rt.pattern)
		cut := len(segs)
		for _, o := range table {
			if o.method == rt.method && o.pattern != rt.pattern {
				if i := ambiguousAt(segs, splitPath(o.pattern)); i >= 0 {
					cut = min(cut, i)
				}
			}
		}
		for i := cut; i < len(segs); i++ {
			segs[i] = fmt.Sprintf(":p%d", i)
		}
		pattern := "/" + strings.Join(segs, "/")
		k := rt.method + " " + pattern
		if _, ok := index[k]; !ok {
			index[k] = len(points)
			points = append(points, mountPoint{method: rt.method, pattern: pattern})
		}
		points[index[k]].routes = append(points[index[k]].routes, rt)
	}
	for _, p := range points {
		slices.SortStableFunc(p.routes, func(a, b route) int { return staticCount(b.pattern) - staticCount(a.pattern) })
	}
	return points
}

// ambiguousAt returns the first position where a and b, equal before it,
// have a wildcard in one and a static segment in the other, or -1.
func ambiguousAt(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		pa, pb := isParam(a[i]), isParam(b[i])
		switch {
		case pa != pb:
			return i
		case !pa && a[i] != b[i]:
			return -1
		}
	}
	return -1
}

func splitPath(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

func isParam(seg string) bool { return strings.HasPrefix(seg, ":") }

func staticCount(pattern string) int {
	n := 0
	for _, seg := range splitPath(pattern) {
		if !isParam(seg) {
			n++
		}
	}
	return n
}

// match binds the parameters of a pattern (split in segments) in path, or
// reports that it does not match. It walks path in place: the public-link
// download, the busiest route, comes through here.
func match(want []string, params int, path string) (httprouter.Params, bool) {
	rest := strings.Trim(path, "/")
	ps := make(httprouter.Params, 0, params)
	for i, seg := range want {
		got, after, more := strings.Cut(rest, "/")
		if more != (i < len(want)-1) {
			return nil, false // fewer or more segments than the pattern
		}
		rest = after
		switch {
		case isParam(seg):
			ps = append(ps, httprouter.Param{Key: seg[1:], Value: got})
		case seg != got:
			return nil, false
		}
	}
	return ps, true
}

// dispatch serves a mount point: directly when it holds one unambiguous
// route, otherwise through the first route whose pattern matches.
func (s *Server) dispatch(m mountPoint) httprouter.Handle {
	if len(m.routes) == 1 && m.routes[0].pattern == m.pattern {
		rt := m.routes[0]
		return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) { s.serve(w, r, rt, ps) }
	}
	segs := make([][]string, len(m.routes))
	params := make([]int, len(m.routes))
	for i, rt := range m.routes {
		segs[i] = splitPath(rt.pattern)
		params[i] = len(segs[i]) - staticCount(rt.pattern)
	}
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		for i, rt := range m.routes {
			if ps, ok := match(segs[i], params[i], r.URL.Path); ok {
				s.serve(w, r, rt, ps)
				return
			}
		}
		s.fail(w, r, errNotFound("route"))
	}
}
