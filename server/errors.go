package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"hangar/depot"
	"hangar/store"
)

// apiError is an answer to a failed request, in a form both dialects can
// render: the workspace API writes {"error": Code, "message": Message}, the
// organization API {"status": false, "error": {"code": OrgCode, "message":
// Message}}.
type apiError struct {
	Status  int
	Code    string
	OrgCode int
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// Organization API codes. The first four are Applivery's own (docs/apis.md);
// the others follow its numbering for answers its reference does not list.
const (
	orgNotFound     = 3001 // "Entity not found"
	orgNoAuth       = 4002 // "No auth token"
	orgInvalidToken = 4004 // "Invalid token": Applivery's clients tell it from 4002
	orgTokenExpired = 4005 // "Token Expired"
	orgNotProcessed = 5014 // "Build Not Processed"
	orgBadRequest   = 4000
	orgForbidden    = 4003
	orgConflict     = 4009
	orgTooLarge     = 4013
	orgRateLimited  = 4029
	orgInternal     = 5000
	orgUnavailable  = 5003
	orgNoSpace      = 5007
)

// orgMessages are the messages Applivery's reference gives its codes;
// answers with these codes use them verbatim, as scripts may match on them.
var orgMessages = map[int]string{
	orgNotFound:     "Entity not found",
	orgNoAuth:       "No auth token",
	orgInvalidToken: "Invalid token",
	orgTokenExpired: "Token Expired",
	orgNotProcessed: "Build Not Processed",
}

// linkErr maps what using a public link fails with to the workspace API's answers (docs/apis.md):
// an unknown, unusable or vanished link is 404 LINK_NOT_FOUND, one at its
// limit 403 DOWNLOAD_LIMIT_REACHED.
func linkErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errLinkNotFound
	case errors.Is(err, store.ErrLimitReached):
		return errLimitReached
	case errors.Is(err, store.ErrProtected):
		return errPasswordNeeded // its password changed during the request
	}
	return err
}

// errDamaged answers a download of a file whose stored copy is damaged.
var errDamaged = &apiError{http.StatusInternalServerError, "FILE_DAMAGED", orgInternal,
	"the stored copy of this file is damaged; upload it again (an identical upload repairs it) or restore it from a backup"}

// errTooLarge answers a body over a limit: an upload over
// max_upload_size, or a form field over max_request_body.
func errTooLarge(msg string) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", orgTooLarge, msg}
}

func errNotFound(what string) *apiError {
	return &apiError{http.StatusNotFound, "NOT_FOUND", orgNotFound, what + " not found"}
}

func errBadRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "BAD_REQUEST", orgBadRequest, msg}
}

func errForbidden(msg string) *apiError {
	return &apiError{http.StatusForbidden, "FORBIDDEN", orgForbidden, msg}
}

var (
	errInternal     = &apiError{http.StatusInternalServerError, "INTERNAL", orgInternal, "internal error"}
	errUnauthorized = &apiError{http.StatusUnauthorized, "UNAUTHORIZED", orgNoAuth, "a valid bearer token is required"}
	// errInvalidToken: a bearer token was sent, and it is not one (unknown,
	// revoked, expired, or its owner gone). Same status and workspace code
	// as errUnauthorized; the organization API tells them apart, as
	// Applivery does.
	errInvalidToken = &apiError{http.StatusUnauthorized, "UNAUTHORIZED", orgInvalidToken, "the bearer token is not valid (unknown, revoked or expired)"}
)

func errNoPermission(p fmt.Stringer) *apiError {
	return errForbidden("this token lacks the " + p.String() + " permission")
}

// toAPIError maps any error to its answer. Errors it does not know are
// internal: the client is told only "internal error".
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.Is(err, store.ErrNotFound):
		return &apiError{http.StatusNotFound, "NOT_FOUND", orgNotFound, "Entity not found"}, true
	case errors.Is(err, store.ErrConflict):
		return &apiError{http.StatusConflict, "CONFLICT", orgConflict, err.Error()}, true
	case errors.Is(err, store.ErrInvalid):
		return errBadRequest(err.Error()), true
	case errors.Is(err, store.ErrLastAdmin):
		return &apiError{http.StatusConflict, "LAST_ADMIN", orgConflict, err.Error()}, true
	case errors.Is(err, store.ErrTokenExpired):
		return &apiError{http.StatusUnauthorized, "TOKEN_EXPIRED", orgTokenExpired, "Token Expired"}, true
	case errors.Is(err, store.ErrQuotaExceeded):
		return &apiError{http.StatusInsufficientStorage, "QUOTA_EXCEEDED", orgNoSpace, err.Error()}, true
	case errors.Is(err, depot.ErrTooLarge), errors.As(err, &tooBig):
		return errTooLarge("upload exceeds the size limit"), true
	case errors.Is(err, depot.ErrDigestMismatch):
		return errBadRequest("the body does not have the SHA-256 its Content-Digest declared (or not the declared length); nothing was stored"), true
	case errors.Is(err, depot.ErrGone):
		return &apiError{http.StatusConflict, "CONFLICT", orgConflict, "identical content was deleted while this upload was checked against it; send the upload again"}, true
	case errors.Is(err, depot.ErrRead):
		// The client stopped sending, sent less than it announced, or hung up.
		return errBadRequest("the upload was interrupted before its end"), true
	case errors.Is(err, depot.ErrUnavailable):
		return &apiError{http.StatusServiceUnavailable, "STORAGE_UNAVAILABLE", orgUnavailable, "the object store is unavailable; nothing was stored, try again later"}, true
	case errors.Is(err, depot.ErrNoSpace), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// Blob writes and metadata commits alike: a full disk is the
		// server's condition, not a bug.
		return &apiError{http.StatusInsufficientStorage, "INSUFFICIENT_STORAGE", orgNoSpace, "the server is out of disk space"}, true
	}
	return errInternal, false
}

// fail answers a request no route matched, or whose handler panicked:
// paths under /v1/ in the organization API's envelope, everything else in
// the workspace API's JSON. Internal errors are logged with their detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	setRetryAfter(w, err)
	s.writeAPIError(w, r, err, isOrgDialect(r))
}

// errAnswered is what a check returns when it has answered the request
// itself (a browser sent to a page's form): the handler stops, and nothing
// more is written.
var errAnswered = errors.New("answered")

// answerError answers an error a route's handler (or its access rule)
// returned, in the shape of the route's front: the one place where an
// error becomes an answer. An answer already started is not answered
// again: the error is logged.
func (s *Server) answerError(w http.ResponseWriter, r *http.Request, front renderer, c *call, err error) {
	if errors.Is(err, errAnswered) {
		return
	}
	setRetryAfter(w, err)
	if lw, ok := w.(*logWriter); ok && lw.status != 0 {
		s.log.Error("request failed after its answer started", "method", r.Method, "route", lw.route, "status", lw.status, "err", err)
		return
	}
	switch front {
	case consoleFront:
		s.failPage(w, r, c, err)
	case testerFront:
		if wantsHTML(r) {
			s.testerError(w, r, err)
			return
		}
		s.writeAPIError(w, r, err, false)
	case appCenterFront:
		s.writeAppCenterError(w, r, err)
	default:
		s.writeAPIError(w, r, err, front == orgFront)
	}
}

// appCenterCodes are App Center's error codes by status.
var appCenterCodes = map[int]string{
	http.StatusBadRequest: "BadRequest", http.StatusUnauthorized: "Unauthorized", http.StatusForbidden: "Forbidden",
	http.StatusNotFound: "NotFound", http.StatusConflict: "Conflict", http.StatusRequestEntityTooLarge: "PayloadTooLarge",
	http.StatusTooManyRequests: "TooManyRequests", http.StatusInsufficientStorage: "InsufficientStorage",
	http.StatusServiceUnavailable: "ServiceUnavailable", http.StatusMethodNotAllowed: "MethodNotAllowed",
}

// writeAppCenterError answers in App Center's shape: {"code", "message"};
// the upload domain's answers also say "error": true, which its client
// reads.
func (s *Server) writeAppCenterError(w http.ResponseWriter, r *http.Request, err error) {
	ae, known := toAPIError(err)
	if !known {
		s.log.Error("request failed", "method", r.Method, "route", routeOf(w), "err", err)
	}
	code, ok := appCenterCodes[ae.Status]
	if !ok {
		code = "InternalServerError"
	}
	body := map[string]any{"code": code, "message": ae.Message}
	if strings.HasPrefix(r.URL.Path, "/upload/") {
		body["error"] = true
	}
	writeJSON(w, ae.Status, body)
}

// testerError is an error as a tester's browser sees it: a page in the
// tester pages' style, with the status.
func (s *Server) testerError(w http.ResponseWriter, r *http.Request, err error) {
	ae, known := toAPIError(err)
	if !known {
		s.log.Error("request failed", "method", r.Method, "route", routeOf(w), "err", err)
	}
	title := "Not available"
	switch {
	case ae.Status == http.StatusNotFound:
		title = "Page not available"
	case ae.Status >= 500:
		title = "Something went wrong"
	}
	if err := s.renderTester(w, r, testerView{Status: ae.Status, Title: title, Message: ae.Message}); err != nil {
		s.log.Error("tester error page", "err", err)
	}
}

// writeAPIError writes err in the workspace API's JSON or, with org, in
// the organization API's envelope.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error, org bool) {
	ae, known := toAPIError(err)
	if !known {
		s.log.Error("request failed", "method", r.Method, "route", routeOf(w), "err", err)
	}
	switch {
	case ae.Status != http.StatusUnauthorized, w.Header().Get("WWW-Authenticate") != "": // a protected page's download asks for Basic
	case ae.OrgCode == orgInvalidToken:
		w.Header().Set("WWW-Authenticate", `Bearer realm="hangar", error="invalid_token"`)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="hangar"`)
	}
	if org {
		msg := ae.Message
		if m, ok := orgMessages[ae.OrgCode]; ok {
			msg = m
		}
		writeJSON(w, ae.Status, orgEnvelope{Status: false, Error: &orgError{Code: ae.OrgCode, Message: msg}})
		return
	}
	writeJSON(w, ae.Status, workspaceError{Error: ae.Code, Message: ae.Message})
}

// isOrgDialect reports whether the answer to a request no route matched
// (a 404 or 405 of the router, a panic) takes the organization API's
// envelope: it has only its path to go by, and /v1/ is that API's. Routes
// say their front themselves (answerError).
func isOrgDialect(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/v1/")
}

type workspaceError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

type orgError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// orgEnvelope is every organization API answer: data on success, error on
// failure.
type orgEnvelope struct {
	Status bool      `json:"status"`
	Data   any       `json:"data,omitempty"`
	Error  *orgError `json:"error,omitempty"`
}
