package server

import (
	_ "embed"
	"net/http"
)

// openAPIJSON describes the APIs (OpenAPI 3.1). It is made from the route
// table by openapi_internal_test.go, which fails when it is not what the
// table makes; the test suite's traffic is validated against it.
//
//go:embed openapi.json
var openAPIJSON []byte

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIJSON)
	return nil
}
