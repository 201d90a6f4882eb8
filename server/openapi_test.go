package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"hangar/hangartest"
)

// The suite's own HTTP traffic is validated against openapi.json: every
// answer of a described route (its status, its body's shape, the error
// shape of its API), and every request the server accepted (one it
// refused may break the description on purpose). So the description
// cannot drift from what the code does.

var apiValidator = sync.OnceValues(func() (validator.Validator, error) {
	spec, err := os.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi.json: %v", errs)
	}
	return v, nil
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
	v, err := apiValidator()
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !describedPath(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		in := &keptBody{r: r.Body}
		r.Body = in
		rec := &keptWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(rec, r)
		req := r.Clone(r.Context())
		req.Body = io.NopCloser(bytes.NewReader(in.buf.Bytes()))
		resp := &http.Response{StatusCode: rec.status, Header: rec.Header().Clone(), Request: req,
			Body: io.NopCloser(bytes.NewReader(rec.buf.Bytes()))}
		var errs []string
		mu.Lock()
		defer mu.Unlock()
		if rec.full {
			return // a download or a long list: not kept, not checked
		}
		if r.Method == http.MethodHead {
			resp.Body = io.NopCloser(strings.NewReader("")) // net/http sends none
		}
		if ok, verrs := v.ValidateHttpResponse(req, resp); !ok {
			for _, e := range verrs {
				if (rec.status == http.StatusNotFound || rec.status == http.StatusMethodNotAllowed) && strings.Contains(e.Message, "not found") {
					return // no route: nothing to describe
				}
				errs = append(errs, fmt.Sprintf("answer %d to %s %s: %s %s", rec.status, r.Method, r.URL.Path, e.Message, e.Reason))
			}
		}
		// A raw body sent without a Content-Type cannot be told from JSON
		// by the validator; the server takes it as bytes.
		typed := r.Header.Get("Content-Type") != "" || r.ContentLength == 0
		if strings.Contains(r.Header.Get("Content-Type"), "json") && !json.Valid(in.buf.Bytes()) {
			typed = false // bytes labelled JSON that a route took as a file
		}
		if rec.status < 400 && typed && !in.full && !in.unread() {
			if ok, verrs := v.ValidateHttpRequest(req); !ok {
				for _, e := range verrs {
					errs = append(errs, fmt.Sprintf("request %s %s (%s, answered %d): %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), rec.status, e.Message, e.Reason))
				}
			}
		}
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
