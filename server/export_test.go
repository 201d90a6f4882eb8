package server

import "context"

// RouteInfo is a row of the route table, for tests that check coverage.
type RouteInfo struct {
	Method, Pattern string
	Public          bool // no credential at all (the signed URL or link is one)
}

// Routes returns the route table of s.
func Routes(s *Server) []RouteInfo {
	var out []RouteInfo
	for _, rt := range s.table() {
		out = append(out, RouteInfo{rt.method, rt.pattern, rt.access == public})
	}
	return out
}

// SyncDirectoryOnce runs one pass of the directory sync, for tests that
// cannot wait for its interval.
func SyncDirectoryOnce(s *Server) error { return s.syncDirectoryOnce(context.Background()) }
