package server

import (
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// routes is the whole route table.
//
// httprouter refuses two pairs of the workspace seed's paths (a wildcard
// beside a static segment at the same position): those get one route each
// that dispatches inside its handler; see ../shared/notes.md.
func (s *Server) routes() http.Handler {
	table := []struct {
		method, pattern string
		flags           routeFlags
		h               httprouter.Handle
	}{
		{"GET", "/healthz", 0, s.healthz},
		{"GET", "/readyz", 0, s.readyz},

		// Delivery: Hangar's own signed URLs, where every 302 points.
		{"GET", "/dl/:fileId/:fileName", 0, s.download},
		{"HEAD", "/dl/:fileId/:fileName", 0, s.download},
	}

	r := httprouter.New()
	for _, rt := range table {
		r.Handle(rt.method, rt.pattern, s.wrap(rt.pattern, rt.flags, rt.h))
	}
	// Case-insensitive path fixing would redirect between IDs, which are
	// case-sensitive.
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fail(w, req, errNotFound("route"))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fail(w, req, &apiError{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", orgBadRequest, req.Method + " is not allowed here"})
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		s.fail(w, req, fmt.Errorf("panic: %v", v))
	}
	return r
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the metadata store can commit a write.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := s.store.Writable(); err != nil {
		s.log.Error("readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
