package server

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
