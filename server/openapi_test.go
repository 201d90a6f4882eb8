package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"hangar/hangartest"
)

// The suite's own HTTP traffic is validated against openapi.json: every
// answer of a described route (its status, its body's shape, the error
// shape of its API), and every request the server accepted (one it
// refused may break the description on purpose). So the description
// cannot drift from what the code does.

var apiRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.json")
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	// Files of any type are checked for their type, not their bytes.
	for _, ct := range []string{"*/*", "text/csv", "text/tab-separated-values", "application/x-ndjson",
		"application/x-tar", "image/png", "text/html"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	return gorillamux.NewRouter(doc)
})

// bodies larger than this are not kept for validation (uploads,
// downloads); their statuses and headers still are.
const keepBody = 256 << 10

// describedPath says whether a path belongs to a route openapi.json
// describes (pages do not).
func describedPath(p string) bool {
	for _, prefix := range []string{"/api/", "/v1/", "/v0.1/", "/upload/", "/dl/", "/icon/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return p == "/healthz" || p == "/readyz" || p == "/metrics"
}

// validating wraps the server's handler for a test: each exchange with a
// described route is checked against openapi.json once the handler is
// done; what does not match fails the test at its end.
func validating(t testing.TB, h http.Handler) http.Handler {
	router, err := apiRouter()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var problems []string
	seen := map[string]bool{}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("openapi.json: %s", p)
		}
	})
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !describedPath(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		in := &keptBody{r: r.Body}
		r.Body = in
		rec := &keptWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(rec, r)
		if rec.full {
			return // a download or a long list: not kept, not checked
		}
		req := r.Clone(context.Background())
		req.Body = io.NopCloser(bytes.NewReader(in.buf.Bytes()))
		route, params, err := router.FindRoute(req)
		if err != nil {
			if (rec.status == http.StatusNotFound || rec.status == http.StatusMethodNotAllowed) &&
				(errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed)) {
				return // no route: nothing to describe
			}
			mu.Lock()
			defer mu.Unlock()
			problems = append(problems, fmt.Sprintf("%s %s answered %d: %v", r.Method, r.URL.Path, rec.status, err))
			return
		}
		var errs []string
		reqIn := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		respIn := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqIn, Status: rec.status,
			Header: rec.Header().Clone(), Options: opts}
		respIn.SetBodyBytes(rec.buf.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), respIn); err != nil {
			errs = append(errs, fmt.Sprintf("answer %d to %s %s: %v", rec.status, r.Method, r.URL.Path, err))
		}
		// A raw body sent without a Content-Type cannot be told from JSON
		// by the validator; the server takes it as bytes.
		typed := r.Header.Get("Content-Type") != "" || r.ContentLength == 0
		if strings.Contains(r.Header.Get("Content-Type"), "json") && !json.Valid(in.buf.Bytes()) {
			typed = false // bytes labelled JSON that a route took as a file
		}
		if rec.status < 400 && typed && !in.full && !in.unread() {
			if err := openapi3filter.ValidateRequest(context.Background(), reqIn); err != nil {
				errs = append(errs, fmt.Sprintf("request %s %s (%s, answered %d): %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), rec.status, err))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			if !seen[e] {
				seen[e] = true
				problems = append(problems, e)
			}
		}
	})
}

// keptBody keeps what the handler reads of a request body, up to
// keepBody.
type keptBody struct {
	r    io.ReadCloser
	buf  bytes.Buffer
	full bool
	eof  bool
}

func (k *keptBody) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if !k.full {
		if k.buf.Len()+n > keepBody {
			k.full = true
		} else {
			k.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		k.eof = true
	}
	return n, err
}

func (k *keptBody) Close() error { return k.r.Close() }

// unread says the handler answered without reading the whole body (a
// refusal, or content taken by its digest): it cannot be validated.
func (k *keptBody) unread() bool { return !k.eof && k.buf.Len() > 0 }

// keptWriter keeps an answer's status and body, up to keepBody.
type keptWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	buf         bytes.Buffer
	full        bool
}

func (k *keptWriter) WriteHeader(code int) {
	if !k.wroteHeader && code >= 200 {
		k.status, k.wroteHeader = code, true
	}
	k.ResponseWriter.WriteHeader(code)
}

func (k *keptWriter) Write(p []byte) (int, error) {
	k.wroteHeader = true
	if !k.full {
		if k.buf.Len()+len(p) > keepBody {
			k.full = true
		} else {
			k.buf.Write(p)
		}
	}
	return k.ResponseWriter.Write(p)
}

func (k *keptWriter) Flush() {
	if f, ok := k.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (k *keptWriter) Unwrap() http.ResponseWriter { return k.ResponseWriter }

// The description is served, as committed.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	resp, body := hangartest.Do(t, "GET", e.ts.URL+"/api/openapi.json", "", "", nil)
	want, _ := os.ReadFile("openapi.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, want) {
		t.Fatalf("GET /api/openapi.json: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}
