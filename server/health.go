package server

import (
	"context"
	"net/http"
	"time"
)

// Health: /healthz says the process is up, /readyz that it can take work.

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// minFreeForReady is the free space below which /readyz fails: a commit
// that reuses a freed page succeeds on a full disk, so the commit alone
// would call a server ready that cannot take an upload or grow its
// database.
const minFreeForReady = 1 << 20

// readyz answers 200 only when the metadata store can commit a write and
// the disk has room.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	if err := s.store.Writable(); err != nil {
		s.log.Error("readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	if b := s.depot.Remote(); b != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := b.Ping(ctx); err != nil {
			s.log.Error("readiness check failed: the object store does not answer", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "object store unavailable"})
			return nil
		}
	}
	if free, err := s.depot.Free(); err == nil && free < minFreeForReady {
		s.log.Error("readiness check failed: the disk is full", "free_bytes", free)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "disk full"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
