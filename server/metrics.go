package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hangar/depot"
	"hangar/store"
)

// metrics are Hangar's Prometheus metrics, in a registry of their own (no
// package-level state). Request metrics are recorded where the request log
// line is written; storage figures are read from the store at scrape time.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	bytesSent   *prometheus.CounterVec
	bytesRecv   prometheus.Counter
	uploadsLive prometheus.Gauge
	handler     http.Handler
}

func newMetrics(d *depot.Depot) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hangar_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hangar_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60, 600},
		}, []string{"route", "method"}),
		bytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hangar_http_response_bytes_total", Help: "Bytes sent in response bodies, by route pattern (downloads are /dl/…).",
		}, []string{"route"}),
		bytesRecv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hangar_http_request_bytes_total", Help: "Bytes received in request bodies (uploads, mostly).",
		}),
		uploadsLive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hangar_uploads_in_flight", Help: "Files being received and stored right now.",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.bytesSent, m.bytesRecv, m.uploadsLive,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		storeCollector{d.Store()}, depotCollector{d})
	if d.Remote() != nil {
		m.registry.MustRegister(bucketCollector{d})
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	return m
}

var (
	descBucketOps = prometheus.NewDesc("hangar_blob_store_operations_total",
		"Operations on the S3 store, by operation (upload, copy, stat, get, remove, list) and result (ok, error).", []string{"op", "result"}, nil)
	descBucketSeconds = prometheus.NewDesc("hangar_blob_store_seconds_total",
		"Time spent in operations on the S3 store, by operation (divide by the operations for the mean latency).", []string{"op"}, nil)
)

// bucketCollector reports the S3 store's operations: a fixed set of labels.
type bucketCollector struct{ d *depot.Depot }

func (c bucketCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBucketOps
	ch <- descBucketSeconds
}

func (c bucketCollector) Collect(ch chan<- prometheus.Metric) {
	for _, op := range c.d.StoreOps() {
		ch <- prometheus.MustNewConstMetric(descBucketOps, prometheus.CounterValue, float64(op.Count-op.Errors), op.Name, "ok")
		ch <- prometheus.MustNewConstMetric(descBucketOps, prometheus.CounterValue, float64(op.Errors), op.Name, "error")
		ch <- prometheus.MustNewConstMetric(descBucketSeconds, prometheus.CounterValue, op.Seconds, op.Name)
	}
}

// methodLabel is the request method as a label or log value: a client may
// send any token as a method, and each distinct one would otherwise be a
// series kept for ever.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// maxLoggedPath bounds the path in a request log line (a client chooses
// it, up to the header limit).
const maxLoggedPath = 512

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// observe records one finished request; method is methodLabel's.
func (m *metrics) observe(route, method string, status int, bytes int64, d time.Duration) {
	if route == "" {
		route = "unmatched" // unknown paths must not create a series each
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
	m.bytesSent.WithLabelValues(route).Add(float64(bytes))
}

var (
	descStorage = prometheus.NewDesc("hangar_workspace_storage_used_bytes", "Bytes of files stored, by workspace.", []string{"workspace"}, nil)
	descQuota   = prometheus.NewDesc("hangar_workspace_storage_quota_bytes", "Storage quota (0: none), by workspace.", []string{"workspace"}, nil)
	// Not per link: a link's ID is the whole credential for its download,
	// and a series per link would grow for ever. The API and the access
	// log carry per-link counts.
	descDownloads = prometheus.NewDesc("hangar_public_link_downloads_total", "Downloads through public links, all together.", nil, nil)
	descLinks     = prometheus.NewDesc("hangar_public_links_active", "Public links not deactivated (expired ones included).", nil, nil)
	descBlobs     = prometheus.NewDesc("hangar_blobs", "Distinct blobs referenced by files (identical content counts once).", nil, nil)
	descDBSize    = prometheus.NewDesc("hangar_db_size_bytes", "Size of the metadata database.", nil, nil)
)

// storeCollector reads storage figures at scrape time, in one read
// transaction.
type storeCollector struct{ st *store.Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStorage, descQuota, descDownloads, descLinks, descBlobs, descDBSize} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.st.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descDBSize, err)
		return
	}
	for _, w := range s.Workspaces {
		ch <- prometheus.MustNewConstMetric(descStorage, prometheus.GaugeValue, float64(w.StorageUsed), w.Slug)
		ch <- prometheus.MustNewConstMetric(descQuota, prometheus.GaugeValue, float64(w.StorageQuota), w.Slug)
	}
	ch <- prometheus.MustNewConstMetric(descDownloads, prometheus.CounterValue, float64(s.LinkDownloads))
	ch <- prometheus.MustNewConstMetric(descLinks, prometheus.GaugeValue, float64(s.ActiveLinks))
	ch <- prometheus.MustNewConstMetric(descBlobs, prometheus.GaugeValue, float64(s.Blobs))
	ch <- prometheus.MustNewConstMetric(descDBSize, prometheus.GaugeValue, float64(s.DBSize))
}

var (
	descProcessed = prometheus.NewDesc("hangar_builds_processed_total", "Packages read by the processing workers, by result (processed or error).", []string{"result"}, nil)
	descDamaged   = prometheus.NewDesc("hangar_damaged_blobs_total", "Blobs found damaged on disk, by what was done: refused (a download of a blob whose size is wrong), replaced (by an identical upload).", []string{"action"}, nil)
	descQueue     = prometheus.NewDesc("hangar_processing_queue", "Builds waiting for a processing worker.", nil, nil)
)

// depotCollector reports what the depot counted (it keeps no metrics of
// its own: it does not know how they are exported).
type depotCollector struct{ d *depot.Depot }

func (c depotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descProcessed
	ch <- descDamaged
	ch <- descQueue
}

func (c depotCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.d.Counters()
	ch <- prometheus.MustNewConstMetric(descProcessed, prometheus.CounterValue, float64(n.Processed), store.BuildProcessed)
	ch <- prometheus.MustNewConstMetric(descProcessed, prometheus.CounterValue, float64(n.ProcessingFailed), store.BuildError)
	ch <- prometheus.MustNewConstMetric(descDamaged, prometheus.CounterValue, float64(n.DamagedRefused), "refused")
	ch <- prometheus.MustNewConstMetric(descDamaged, prometheus.CounterValue, float64(n.DamagedReplaced), "replaced")
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(n.Queued))
}

// serveMetrics is GET /metrics in the Prometheus text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *call) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
