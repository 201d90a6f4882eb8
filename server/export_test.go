package server

// Enqueue hands a build to the processing workers, as an upload does; for
// tests that set up builds in the store directly.
func (s *Server) Enqueue(id string) { s.work.push(id) }
