package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"hangar/config"
)

func scrape(t *testing.T, e *env, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := e.req("GET", "/metrics", token, "")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v", err)
	}
	return families
}

// value returns the value of the family's series whose labels include all
// of want, or -1.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", string(randomBytes(100_000))})
	var link struct{ PublicLinkID, PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)
	resp, body := do(t, "GET", link.PublicURL, nil)
	wantCode(t, resp, body, 200)
	e.req("GET", "/nope/1", "", "")
	e.req("GET", "/nope/2", "", "")
	e.waitProcessed(b.BuildID) // random bytes: an error

	m := scrape(t, e, admin)
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
		max    float64
	}{
		{"hangar_http_requests_total", map[string]string{"route": "/api/v1/workspace/:ws/project/:proj/build", "method": "POST", "code": "201"}, 1, 1},
		{"hangar_http_requests_total", map[string]string{"route": "/api/v1/public/file/:publicLinkId/:fileName", "code": "302"}, 1, 1},
		{"hangar_http_requests_total", map[string]string{"route": "unmatched", "code": "404"}, 2, 2},
		{"hangar_http_request_duration_seconds", map[string]string{"route": "/dl/:fileId/:fileName"}, 1, 1},
		{"hangar_http_response_bytes_total", map[string]string{"route": "/dl/:fileId/:fileName"}, 100_000, 100_000},
		{"hangar_http_request_bytes_total", nil, 100_000, 200_000},
		{"hangar_uploads_in_flight", nil, 0, 0},
		{"hangar_builds_processed_total", map[string]string{"result": "error"}, 1, 1},
		{"hangar_processing_queue", nil, 0, 0},
		{"hangar_workspace_storage_used_bytes", map[string]string{"workspace": "acme"}, 100_000, 100_000},
		{"hangar_public_link_downloads_total", nil, 1, 1},
		{"hangar_public_links_active", nil, 1, 1},
		{"hangar_blobs", nil, 1, 1},
		{"hangar_db_size_bytes", nil, 1, 1 << 40},
		{"go_goroutines", nil, 1, 1e6},
	}
	for _, c := range checks {
		if v := value(m, c.name, c.labels); v < c.min || v > c.max {
			t.Errorf("%s%v = %v, want %v..%v", c.name, c.labels, v, c.min, c.max)
		}
	}
	// Unmatched paths share one series, whatever they were.
	for _, mm := range m["hangar_http_requests_total"].Metric {
		for _, l := range mm.Label {
			if l.GetName() == "route" && (l.GetValue() == "/nope/1" || l.GetValue() == "/nope/2") {
				t.Fatal("a raw path became a label value")
			}
		}
	}

	// No link ID appears anywhere: an ID is the credential for its file.
	if _, body := e.req("GET", "/metrics", admin, ""); bytes.Contains(body, []byte(link.PublicLinkID)) {
		t.Fatal("/metrics names a public link")
	}

	// /metrics names workspaces: it takes an admin token unless configured public.
	if code, _ := e.req("GET", "/metrics", "", ""); code != 401 {
		t.Fatalf("/metrics without a token: %d, want 401", code)
	}
	pub := newEnvWith(t, func(c *config.Config) { c.MetricsPublic = true })
	if code, _ := pub.req("GET", "/metrics", "", ""); code != http.StatusOK {
		t.Fatalf("public /metrics: %d", code)
	}
}

// Invented methods and paths do not grow the metrics or the log: methods
// outside the standard ones share the label "other", unmatched paths
// "unmatched", and a logged path is cut at 512 bytes.
func TestMetricLabelsBounded(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	seriesBefore := len(scrapeBody(t, e, admin))
	for i := range 300 {
		e.req(fmt.Sprintf("FLOOD%dX", i), fmt.Sprintf("/nope/%d", i), "", "")
		e.req(fmt.Sprintf("BREW%d", i), "/api/v1/workspace", "", "")
	}
	e.req("GET", "/"+strings.Repeat("a", 10_000), "", "")
	body := scrapeBody(t, e, admin)
	if bytes.Contains(body, []byte("FLOOD")) || bytes.Contains(body, []byte("BREW")) {
		t.Fatal("an invented method became a label value")
	}
	m := scrape(t, e, admin)
	if v := value(m, "hangar_http_requests_total", map[string]string{"method": "other", "route": "unmatched"}); v != 300 {
		t.Errorf("unmatched requests with other methods: %v, want 300", v)
	}
	// 600 invented requests add a handful of series, not hundreds.
	if grown := len(body) - seriesBefore; grown > 8000 {
		t.Errorf("/metrics grew by %d bytes after 600 invented requests", grown)
	}
	if logs := e.logs.String(); strings.Contains(logs, strings.Repeat("a", 600)) || !strings.Contains(logs, strings.Repeat("a", 500)+"…") {
		t.Error("a 10,000-byte path was not logged cut at 512 bytes")
	}
}

func scrapeBody(t *testing.T, e *env, token string) []byte {
	t.Helper()
	code, body := e.req("GET", "/metrics", token, "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	return body
}
