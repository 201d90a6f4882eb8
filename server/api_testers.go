package server

import (
	"net/http"
	"strings"

	"hangar/store"
)

// Tester groups in the workspace API (ops_testers.go has the operations).

func (s *Server) createTesterGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	var req testerGroupRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	g, err := s.newTesterGroup(c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewTesterGroup(g))
	return nil
}

func (s *Server) listTesterGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	gs, err := s.store.TesterGroups(c.ws.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(gs, viewTesterGroup))
	return nil
}

func (s *Server) testerGroupOf(c *call) (store.TesterGroup, error) {
	g, err := s.store.TesterGroupBySlug(c.ws.ID, c.params.ByName("group"))
	return g, notFoundAs(err, "tester group")
}

func (s *Server) getTesterGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewTesterGroup(g))
	return nil
}

func (s *Server) updateTesterGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	var req testerGroupRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if g, err = s.changeTesterGroup(c, g, req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewTesterGroup(g))
	return nil
}

func (s *Server) deleteTesterGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	if err := c.st().DeleteTesterGroup(g.ID); err != nil {
		return notFoundAs(err, "tester group")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// importTesterGroup adds the addresses of a CSV body (text/csv) to a
// group: all of them, or none when a row is not an address.
func (s *Server) importTesterGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") && !strings.HasPrefix(ct, "text/plain") {
		return &apiError{http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", orgBadRequest, "send the addresses as text/csv"}
	}
	g, err := s.testerGroupOf(c)
	if err != nil {
		return err
	}
	addrs, err := readAddressesCSV(r.Body)
	if err != nil {
		return err
	}
	if g, err = c.st().UpdateTesterGroup(g.ID, "", addrs, nil); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewTesterGroup(g))
	return nil
}

// signOutTesterAPI signs a tester out: of the workspace's pages
// (POST …/workspace/{ws}/tester-signout), or everywhere, their sessions
// ended (POST /api/v1/tester-signout, instance admins). {"email": "…"}.
func (s *Server) signOutTesterAPI(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.signOutTester(c, req.Email); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
