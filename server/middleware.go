package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// logWriter records what a handler answered, for the request log.
//
// It implements io.ReaderFrom by handing the copy to the real writer: without
// that, io.Copy inside http.ServeContent would see only Write and net/http
// could not use sendfile for downloads.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	route  string // the route pattern, set by the router's handler
	secret bool   // the path itself is a credential: log the pattern only
	// waiting is the body of a request whose client waits for 100
	// Continue before sending it (nil otherwise).
	waiting *idleReader
}

// start is called before the answer's first byte. An answer to a client
// still waiting to send its body (an early error, or an upload taken
// without its bytes) closes the connection: the client then never sends
// the body. net/http would do this itself, but it cannot see through the
// wrapped body, and would instead read up to 256 KiB of it to keep the
// connection, which the client sends only after its wait for 100 Continue
// times out (a second for curl).
func (lw *logWriter) start(code int) {
	if lw.status != 0 {
		return
	}
	lw.status = code
	if lw.waiting != nil && !lw.waiting.read.Load() {
		lw.Header().Set("Connection", "close")
	}
}

// Removing ReadFrom would silently turn sendfile off: keep this line.
var _ io.ReaderFrom = (*logWriter)(nil)

func (lw *logWriter) WriteHeader(code int) {
	lw.start(code)
	lw.ResponseWriter.WriteHeader(code)
}

func (lw *logWriter) Write(p []byte) (int, error) {
	lw.start(http.StatusOK)
	n, err := lw.ResponseWriter.Write(p)
	lw.bytes += int64(n)
	return n, err
}

func (lw *logWriter) ReadFrom(r io.Reader) (int64, error) {
	lw.start(http.StatusOK)
	var n int64
	var err error
	if rf, ok := lw.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else { // HTTP/2 has no sendfile path
		n, err = io.Copy(struct{ io.Writer }{lw.ResponseWriter}, r)
	}
	lw.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushing) through the wrapper.
func (lw *logWriter) Unwrap() http.ResponseWriter { return lw.ResponseWriter }

func (lw *logWriter) Flush() {
	if f, ok := lw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logRequests logs one line per request. The query string is never logged
// (signed URLs carry their signature there), nor the Authorization header,
// nor the path of routes whose path holds a credential.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		lw := &logWriter{ResponseWriter: w}
		next.ServeHTTP(lw, r)
		path := r.URL.Path
		if lw.secret {
			path = lw.route
		}
		status := lw.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		method := methodLabel(r.Method)
		s.metrics.observe(lw.route, method, status, lw.bytes, elapsed)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		// LogAttrs would build every attribute (a client-IP parse among
		// them) before looking at the level.
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", method),
			slog.String("path", truncate(path, maxLoggedPath)),
			slog.String("route", lw.route),
			slog.Int("status", status),
			slog.Int64("bytes", lw.bytes),
			slog.Duration("duration", elapsed),
			slog.String("client", s.clientIP(r).String()),
		)
	})
}

// routeOf returns the route pattern that handled the request, if known.
func routeOf(w http.ResponseWriter) string {
	if lw, ok := w.(*logWriter); ok {
		return lw.route
	}
	return ""
}

// clientIP returns the address of the client: the peer, or, when the peer is
// a trusted proxy, the right-most address in X-Forwarded-For that is not
// itself a trusted proxy. Left-most entries are whatever the client claimed
// and are never believed.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer := s.peer(r)
	if !peer.IsValid() || !s.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer
			}
			if a = a.Unmap(); !s.trusted(a) {
				return a
			}
		}
	}
	return peer
}

// peer is the address of the other end of the connection.
func (s *Server) peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// idleBody gives the request body an idle deadline: each read must see data
// within idle of the previous one, however long the whole body takes. The
// deadline is pushed forward at most every idle/8, which keeps the cost of
// multi-gigabyte uploads (tens of thousands of reads) negligible.
// It also counts the bytes received, for the metrics.
func idleBody(w http.ResponseWriter, body io.ReadCloser, idle time.Duration, received prometheus.Counter) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	return &idleReader{ReadCloser: body, rc: http.NewResponseController(w), idle: idle, received: received}
}

type idleReader struct {
	io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	set      time.Time
	received prometheus.Counter
	read     atomic.Bool // a read was asked for (net/http then sent 100 Continue)
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.read.Store(true)
	if now := time.Now(); now.Sub(r.set) > r.idle/8 {
		// Not every ResponseWriter supports deadlines (httptest's recorder
		// does not); a body without one still works.
		if r.rc.SetReadDeadline(now.Add(r.idle)) == nil {
			r.set = now
		}
	}
	n, err := r.ReadCloser.Read(p)
	r.received.Add(float64(n))
	if err == io.EOF && !r.set.IsZero() {
		// The whole body is in: the deadline must not outlive it (net/http
		// watches the connection in the background afterwards). After any
		// other error it stays, so that nothing waits on a stalled client.
		r.rc.SetReadDeadline(time.Time{})
		r.set = time.Time{}
	}
	return n, err
}
