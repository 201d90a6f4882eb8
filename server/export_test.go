package server

import (
	"time"

	"hangar/pkginfo"
	"hangar/store"
)

// Enqueue hands a build to the processing workers, as an upload does; for
// tests that set up builds in the store directly.
func (s *Server) Enqueue(id string) { s.work.push(id) }

// SetPackageReader replaces how workers read a package, and their timeout.
// Under the queue's lock: a worker reads them after taking a build from
// the queue, so that ordering makes the change visible to it.
func (s *Server) SetPackageReader(read func(name string) (pkginfo.Info, error), timeout time.Duration) {
	s.work.mu.Lock()
	defer s.work.mu.Unlock()
	s.readPkg = func(f store.File) (pkginfo.Info, error) { return read(f.Name) }
	s.readTimeout = timeout
}
