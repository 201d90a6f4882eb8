package server

import (
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"hangar/auth"
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
		access          access
		h               handler
	}{
		{"GET", "/healthz", 0, public, s.healthz},
		{"GET", "/readyz", 0, public, s.readyz},

		// Delivery: Hangar's own signed URLs, where every 302 points. The
		// signature is the credential.
		{"GET", "/dl/:fileId/:fileName", 0, public, s.download},
		{"HEAD", "/dl/:fileId/:fileName", 0, public, s.download},

		// Sessions and users.
		{"POST", "/api/v1/auth/login", 0, public, s.login},
		{"POST", "/api/v1/auth/logout", 0, signedIn, s.logout},
		{"POST", "/api/v1/user", 0, instanceAdmin, s.createUser},
		{"GET", "/api/v1/user", 0, instanceAdmin, s.listUsers},
		{"PUT", "/api/v1/user/:username/password", 0, signedIn, s.setPassword}, // self or admin, checked inside
		{"GET", "/api/v1/token", 0, instanceAdmin, s.listTokens},
		{"DELETE", "/api/v1/token/:prefix", 0, instanceAdmin, s.revokeAnyToken},

		// Workspaces and their members.
		{"POST", "/api/v1/workspace", 0, instanceAdmin, s.createWorkspace},
		{"GET", "/api/v1/workspace", 0, signedIn, s.listWorkspaces},
		{"GET", "/api/v1/workspace/:ws", 0, need(auth.ProjectRead), s.getWorkspace},
		{"GET", "/api/v1/workspace/:ws/member", 0, need(auth.WorkspaceAdmin), s.listMembers},
		{"PUT", "/api/v1/workspace/:ws/member", 0, need(auth.WorkspaceAdmin), s.setMember},
		{"DELETE", "/api/v1/workspace/:ws/member/:kind/:id", 0, need(auth.WorkspaceAdmin), s.removeMember},
		{"POST", "/api/v1/workspace/:ws/service-account", 0, need(auth.WorkspaceAdmin), s.createServiceAccount},
		{"GET", "/api/v1/workspace/:ws/service-account", 0, need(auth.WorkspaceAdmin), s.listServiceAccounts},
		{"DELETE", "/api/v1/workspace/:ws/service-account/:id", 0, need(auth.WorkspaceAdmin), s.deleteServiceAccount},
		{"POST", "/api/v1/workspace/:ws/service-account/:id/token", 0, need(auth.WorkspaceAdmin), s.createServiceAccountToken},
		{"DELETE", "/api/v1/workspace/:ws/service-account/:id/token/:prefix", 0, need(auth.WorkspaceAdmin), s.revokeServiceAccountToken},

		// Projects and their CI tokens.
		{"POST", "/api/v1/workspace/:ws/project", 0, need(auth.WorkspaceAdmin), s.createProject},
		{"GET", "/api/v1/workspace/:ws/project", 0, need(auth.ProjectRead), s.listProjects},
		{"GET", "/api/v1/workspace/:ws/project/:proj", 0, need(auth.ProjectRead), s.getProject},
		{"POST", "/api/v1/workspace/:ws/project/:proj/app-token", 0, need(auth.WorkspaceAdmin), s.createAppToken},
		{"GET", "/api/v1/workspace/:ws/project/:proj/app-token", 0, need(auth.WorkspaceAdmin), s.listAppTokens},
		{"DELETE", "/api/v1/workspace/:ws/project/:proj/app-token/:prefix", 0, need(auth.WorkspaceAdmin), s.revokeAppToken},
	}

	r := httprouter.New()
	for _, rt := range table {
		r.Handle(rt.method, rt.pattern, s.wrap(rt.pattern, rt.flags, rt.access, rt.h))
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

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the metadata store can commit a write.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *call) {
	if err := s.store.Writable(); err != nil {
		s.log.Error("readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
