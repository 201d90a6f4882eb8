// Command scale measures how Hangar's costs grow with the data it holds. It
// fills two data directories through the store package (a small one and a
// large one: builds with a file each, public links, an access log), runs
// the hangar binary on each, and prints figures measured in the same run:
//
//   - each request of the API at the large size against the small one
//     (median of sequential requests);
//   - public-link redirects under load while the large instance's
//     housekeeping (gc of the old access log, build retention) and an
//     fsck run, against the same load once they are over (p99, maximum);
//   - /metrics time and size with many links;
//   - peak RSS of the large instance through all that, against an idle
//     small one.
//
// Filled directories are kept under -data and reused by later runs.
//
//	go run ./bench/scale -hangar /path/to/hangar [-large 1000000]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hangar/blob"
	"hangar/depot"
	"hangar/store"
)

var (
	hangarBin = flag.String("hangar", "", "the hangar binary to run (required)")
	dataRoot  = flag.String("data", "/var/tmp/hangar-scale", "where filled data directories are kept between runs")
	small     = flag.Int("small", 1000, "builds in the small instance")
	large     = flag.Int("large", 1_000_000, "builds in the large instance")
	links     = flag.Int("links", 100_000, "public links in the large instance")
	logLinks  = flag.Int("log-links", 100, "links with a full access log (10,000 old entries each) in the large instance")
	blobs     = flag.Int("blobs", 4096, "distinct blobs the files share (a shard of fsck holds builds/256 files either way)")
	reps      = flag.Int("reps", 200, "sequential requests per measured call")
	window    = flag.Duration("window", 10*time.Second, "shortest load window")
	retire    = flag.Int("retire", 2000, "builds the large instance's retention deletes at start")
	keepRun   = flag.Bool("keep-run", false, "keep the large instance's data directory and log (DATA/run) for a look afterwards")
)

// fill is what a filled directory holds, saved beside it.
type fill struct {
	Builds, Links int
	Token         string
	BuildID       string // a build in the middle
	FileID        string
	LinkID        string // an unlimited link for the redirect load
	FileName      string
}

func main() {
	flag.Parse()
	if *hangarBin == "" {
		fatal("-hangar is required")
	}
	log.SetFlags(log.Ltime)
	smallDir := filepath.Join(*dataRoot, fmt.Sprintf("b%d", *small))
	sm, err := filled(smallDir, *small, 100, 1)
	if err != nil {
		fatal(err)
	}
	largeDir := filepath.Join(*dataRoot, fmt.Sprintf("b%d-l%d-g%d", *large, *links, *logLinks))
	lg, err := filled(largeDir, *large, *links, *logLinks)
	if err != nil {
		fatal(err)
	}
	// Each instance runs on a copy: its gc and retention delete, its
	// requests add, and the filled directory stays as it was.
	copyTo := func(dir, run string) {
		os.RemoveAll(run)
		if err := exec.Command("cp", "-a", dir, run).Run(); err != nil {
			fatal("copy: ", err)
		}
		// The copy's dirty pages written out first: the server's first
		// fsyncs would otherwise flush gigabytes of them.
		if err := exec.Command("sync").Run(); err != nil {
			fatal("sync: ", err)
		}
	}
	runSmall, run := filepath.Join(*dataRoot, "run-small"), filepath.Join(*dataRoot, "run")
	defer os.RemoveAll(runSmall)
	if !*keepRun {
		defer os.RemoveAll(run)
	}

	// The small instance runs throughout: an idle server's peak, and the
	// reference for every request, measured in turn with the large one's
	// so that both see the same noise.
	copyTo(smallDir, runSmall)
	s, err := start(runSmall, sm, 0)
	if err != nil {
		fatal(err)
	}
	defer s.stop()
	time.Sleep(2 * time.Second) // its housekeeping is over
	idleHWM, idleAnon := s.hwm(), s.anonPeak.Load()

	// The large one, first with housekeeping off: the costs of holding the
	// data, and the redirect load undisturbed.
	copyTo(largeDir, run)
	l, err := start(run, lg, -1)
	if err != nil {
		fatal(err)
	}
	smallOps, largeOps := pairedOps(s, sm, *small, l, lg, *large)
	quiet := l.load(lg, func() bool { return false })
	l.stop()

	// Then with it on: from start, gc expires the old access log and
	// retention deletes the oldest builds, and an fsck is asked for at
	// once, all under the same load.
	l, err = start(run, lg, *large-*retire)
	if err != nil {
		fatal(err)
	}
	defer l.stop()
	readyAfter := l.ready
	fsckDone := make(chan time.Duration, 1)
	go func() {
		t0 := time.Now()
		code, body, err := l.call("POST", "/api/v1/admin/fsck", lg.Token, "")
		if err != nil || code != 200 {
			log.Printf("fsck: %d %v %s", code, err, body)
		}
		fsckDone <- time.Since(t0)
	}()
	busy := l.load(lg, func() bool {
		return !l.logged(`msg=gc `) || len(fsckDone) == 0
	})
	fsckTook := <-fsckDone
	busyHWM, busyAnon := l.hwm(), l.anonPeak.Load()
	// What the commits cost once gc has freed pages: bbolt writes its
	// freelist at every commit until they are reused.
	smallOps2, afterOps := pairedOps(s, sm, *small, l, lg, *large-*retire)

	// /metrics with every link.
	var metricsT []time.Duration
	var metricsSize int
	for range 20 {
		t0 := time.Now()
		code, body, err := l.call("GET", "/metrics", lg.Token, "")
		if err != nil || code != 200 {
			fatalf("metrics: %d %v", code, err)
		}
		metricsT = append(metricsT, time.Since(t0))
		metricsSize = len(body)
	}

	fmt.Printf("\nhangar at %d builds against %d (%d links, %d access-log entries to expire, %d builds to retire)\n\n",
		*large, *small, *links, *logLinks*store.DefaultAccessLogCap, *retire)
	fmt.Printf("%-26s %10s %10s %6s %7s %14s %6s\n", "request (median)", fmt.Sprint(*small), fmt.Sprint(*large), "ratio", "target", "after gc+ret.", "ratio")
	for _, op := range opNames {
		target := "<=1.10"
		if strings.HasPrefix(op, "build list") {
			target = "<=1.30"
		}
		a, b, a2, c := smallOps[op], largeOps[op], smallOps2[op], afterOps[op]
		fmt.Printf("%-26s %10s %10s %6.2f %7s %14s %6.2f\n", op, a.Round(time.Microsecond), b.Round(time.Microsecond), float64(b)/float64(a), target,
			c.Round(time.Microsecond), float64(c)/float64(a2))
	}
	fmt.Printf("\nredirects, 8 clients, at %d builds  %12s %12s %7s\n", *large, "busy", "quiet", "ratio")
	fmt.Printf("%-34s %12d %12d\n", "requests", busy.n, quiet.n)
	fmt.Printf("%-34s %12s %12s %7.2f %8s\n", "p50", busy.p50, quiet.p50, float64(busy.p50)/float64(quiet.p50), "")
	fmt.Printf("%-34s %12s %12s %7.2f %8s\n", "p99", busy.p99, quiet.p99, float64(busy.p99)/float64(quiet.p99), "<=3")
	fmt.Printf("%-34s %12s %12s %7s %8s\n", "max", busy.max, quiet.max, "", "<100ms")
	fmt.Printf("%-34s %12s\n", "ready after start", readyAfter.Round(time.Millisecond))
	fmt.Printf("%-34s %12s\n", "fsck (admin API, during the load)", fsckTook.Round(time.Millisecond))
	fmt.Printf("\n%-34s %12s %8s\n", "/metrics", "", "target")
	fmt.Printf("%-34s %12s %8s\n", "time (median of 20)", median(metricsT).Round(10*time.Microsecond), "<5ms")
	fmt.Printf("%-34s %12d %8s\n", "bytes", metricsSize, "<50000")
	fmt.Printf("\n%-34s %12s %12s %8s\n", "peak memory (MiB)", "RssAnon", "VmHWM", "target")
	fmt.Printf("%-34s %12d %12d\n", fmt.Sprintf("idle, %d builds", *small), idleAnon>>20, idleHWM>>20)
	fmt.Printf("%-34s %12d %12d %8s\n", "gc+retention+fsck+load, "+strconv.Itoa(*large), busyAnon>>20, busyHWM>>20, fmt.Sprintf("<=%d", idleAnon>>20+32))
	fmt.Printf("%-34s %12s %12d\n", "  database file (mapped)", "", fileSize(filepath.Join(run, "hangar.db"))>>20)
}

// filled returns what dir holds, filling it first if it is not.
func filled(dir string, builds, nLinks, nLogLinks int) (fill, error) {
	var f fill
	marker := filepath.Join(dir, "filled.json")
	if b, err := os.ReadFile(marker); err == nil {
		return f, json.Unmarshal(b, &f)
	}
	os.RemoveAll(dir)
	log.Printf("filling %s: %d builds, %d links, %d full access logs", dir, builds, nLinks, nLogLinks)
	t0 := time.Now()
	st, err := store.Open(depot.DBPath(dir), store.Options{NoSync: true})
	if err != nil {
		return f, err
	}
	defer st.Close()
	bs, err := blob.Open(depot.BlobDir(dir))
	if err != nil {
		return f, err
	}
	if f.Token, err = st.Bootstrap(""); err != nil {
		return f, err
	}
	ws, err := st.CreateWorkspace(store.Workspace{Slug: "acme", Name: "Acme"})
	if err != nil {
		return f, err
	}
	p, err := st.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "app", Name: "App", Platform: "android"})
	if err != nil {
		return f, err
	}
	var refs []blob.Info
	for i := range min(*blobs, builds) {
		info, err := bs.Put(strings.NewReader(fmt.Sprintf("build content %d\n", i)), 0, nil)
		if err != nil {
			return f, err
		}
		refs = append(refs, info)
	}
	old := time.Now().Add(-60 * 24 * time.Hour)
	var files []store.File
	for i := range builds {
		b, err := st.CreateBuild(store.Build{ProjectID: p.ID, Status: store.BuildProcessed, VersionName: fmt.Sprintf("1.%d", i),
			VersionCode: strconv.Itoa(i), AppName: "App", OS: "android", Notes: "Release notes of a typical length, a sentence or two."})
		if err != nil {
			return f, err
		}
		ref := refs[i%len(refs)]
		file, err := st.AddFile(store.File{BuildID: b.ID, Name: "app.apk", Size: ref.Size, Checksum: ref.Ref.String()})
		if err != nil {
			return f, err
		}
		if i == builds/2 {
			f.BuildID, f.FileID, f.FileName = b.ID, file.ID, file.Name
		}
		if i < nLogLinks {
			files = append(files, file)
		}
		if i%100_000 == 99_999 {
			log.Printf("  %d builds", i+1)
		}
	}
	for i := range nLinks {
		l, err := st.CreateLink(store.PublicLink{FileID: f.FileID})
		if err != nil {
			return f, err
		}
		if i == 0 {
			f.LinkID = l.ID
		}
	}
	// Full access logs, old enough for gc to expire at start.
	for _, file := range files {
		l, err := st.CreateLink(store.PublicLink{FileID: file.ID})
		if err != nil {
			return f, err
		}
		var wg sync.WaitGroup
		var failed error
		for w := range 32 {
			wg.Go(func() {
				for i := w; i < store.DefaultAccessLogCap; i += 32 {
					if _, err := st.UseLink(l.ID, file.Name, store.AccessLogEntry{Time: old, ClientIP: "192.0.2.1", UserAgent: "curl/8.0"}, true); err != nil {
						failed = err
						return
					}
				}
			})
		}
		wg.Wait()
		if failed != nil {
			return f, failed
		}
	}
	f.Builds, f.Links = builds, nLinks
	b, _ := json.Marshal(f)
	if err := os.WriteFile(marker, b, 0o600); err != nil {
		return f, err
	}
	log.Printf("filled in %s", time.Since(t0).Round(time.Second))
	return f, nil
}

type instance struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	ready   time.Duration
	client  *http.Client

	token string

	logOffset int64
	found     map[string]bool
	anonPeak  atomic.Int64
}

// start runs hangar on dir and waits until /readyz answers 200. With
// keepBuilds < 0, housekeeping has nothing to do (no retention, access log
// kept).
func start(dir string, f fill, keepBuilds int) (*instance, error) {
	logKeep := "720h"
	if keepBuilds < 0 {
		keepBuilds, logKeep = 0, "0s"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "hangar.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, `listen = %q
data_dir = %q
access_log_retention = %q
[log]
level = "info"
[retention]
keep_builds = %d
`, addr, dir, logKeep, keepBuilds), 0o600)
	in := &instance{base: "http://" + addr, token: f.Token, logPath: filepath.Join(dir, "hangar.log"), found: map[string]bool{},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	logFile, err := os.Create(in.logPath)
	if err != nil {
		return nil, err
	}
	in.cmd = exec.Command(*hangarBin, "serve", "-config", cfg)
	in.cmd.Stdout, in.cmd.Stderr = logFile, logFile
	t0 := time.Now()
	if err := in.cmd.Start(); err != nil {
		return nil, err
	}
	runningMu.Lock()
	running = append(running, in)
	runningMu.Unlock()
	go in.sample()
	for time.Since(t0) < time.Minute {
		if code, _, err := in.call("GET", "/readyz", "", ""); err == nil && code == 200 {
			in.ready = time.Since(t0)
			return in, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	in.stop()
	return nil, errors.New("hangar did not become ready; see " + in.logPath)
}

func (in *instance) stop() {
	in.cmd.Process.Signal(os.Interrupt)
	in.cmd.Wait()
}

func (in *instance) call(method, path, token, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, in.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// status reads a field of /proc/PID/status, in bytes.
func (in *instance) status(field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid))
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// hwm is the process's peak resident set (VmHWM). It counts the pages of
// the memory-mapped database that the process has touched, which are the
// kernel's page cache (shared, reclaimable) and grow with the database.
func (in *instance) hwm() int64 { return in.status("VmHWM") }

// sample records the peak of the process's anonymous memory (RssAnon: its
// heap and stacks, what grows with what it holds), which the kernel does
// not keep a peak of, every 10 ms until the process ends.
func (in *instance) sample() {
	for in.cmd.ProcessState == nil {
		if n := in.status("RssAnon"); n > in.anonPeak.Load() {
			in.anonPeak.Store(n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logged reports whether the log has a line containing s, reading only
// what was added since the last look (every request is logged at info).
func (in *instance) logged(s string) bool {
	if in.found[s] {
		return true
	}
	f, err := os.Open(in.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	f.Seek(in.logOffset, io.SeekStart)
	b, _ := io.ReadAll(f)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		in.logOffset += int64(i + 1)
		if bytes.Contains(b[:i+1], []byte(s)) {
			in.found[s] = true
		}
	}
	return in.found[s]
}

var opNames = []string{"build list, first page", "build list, last page", "build details", "link creation", "download token", "public-link redirect"}

type opCall struct {
	method, path, body string
	want               int
}

func opCalls(f fill, builds int) map[string]opCall {
	proj := "/api/v1/workspace/acme/project/app"
	last := (builds + 49) / 50
	return map[string]opCall{
		"build list, first page": {"GET", proj + "/build?limit=50", "", 200},
		"build list, last page":  {"GET", proj + "/build?limit=50&page=" + strconv.Itoa(last), "", 200},
		"build details":          {"GET", proj + "/build/" + f.BuildID, "", 200},
		"link creation":          {"POST", proj + "/build/files/" + f.FileID + "/public-link", `{"downloadLimit":100}`, 201},
		"download token":         {"GET", "/v1/organizations/acme/apps/app/builds/" + f.BuildID + "/downloadToken?fileId=" + f.FileID + "&type=auto", "", 200},
		"public-link redirect":   {"GET", "/api/v1/public/file/" + f.LinkID + "/" + f.FileName, "", 302},
	}
}

// pairedOps times each request of opNames on two instances in turn, one
// request on each at a time, and returns the medians of each.
func pairedOps(a *instance, fa fill, na int, b *instance, fb fill, nb int) (map[string]time.Duration, map[string]time.Duration) {
	ca, cb := opCalls(fa, na), opCalls(fb, nb)
	outA, outB := map[string]time.Duration{}, map[string]time.Duration{}
	for _, name := range opNames {
		var ta, tb []time.Duration
		for i := range *reps + 20 {
			da, db := a.timeCall(name, ca[name]), b.timeCall(name, cb[name])
			if i >= 20 { // warm-up
				ta, tb = append(ta, da), append(tb, db)
			}
		}
		outA[name], outB[name] = median(ta), median(tb)
	}
	return outA, outB
}

func (in *instance) timeCall(name string, c opCall) time.Duration {
	t0 := time.Now()
	code, body, err := in.call(c.method, c.path, in.token, c.body)
	d := time.Since(t0)
	if err != nil || code != c.want {
		fatalf("%s: %d %v %.200s", name, code, err, body)
	}
	if strings.HasPrefix(name, "build list") && !bytes.Contains(body, []byte("buildId")) {
		fatalf("%s: empty page", name)
	}
	return d
}

type loadResult struct {
	n             int
	p50, p99, max time.Duration
}

// load runs 8 clients of public-link redirects for at least -window and
// for as long as more says.
func (in *instance) load(f fill, more func() bool) loadResult {
	var (
		mu   sync.Mutex
		all  []time.Duration
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	path := "/api/v1/public/file/" + f.LinkID + "/" + f.FileName
	for range 8 {
		wg.Go(func() {
			var mine []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				t0 := time.Now()
				code, _, err := in.call("GET", path, "", "")
				if err != nil || code != 302 {
					fatalf("redirect under load: %d %v", code, err)
				}
				mine = append(mine, time.Since(t0))
			}
		})
	}
	t0 := time.Now()
	for time.Since(t0) < *window || more() {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	slices.Sort(all)
	return loadResult{n: len(all), p50: all[len(all)/2].Round(10 * time.Microsecond), p99: all[len(all)*99/100].Round(10 * time.Microsecond),
		max: all[len(all)-1].Round(100 * time.Microsecond)}
}

// running are the hangar processes started, stopped by fatal too.
var (
	runningMu sync.Mutex
	running   []*instance
)

func fatal(v ...any) { fatalf("%s", fmt.Sprint(v...)) }

func fatalf(format string, v ...any) {
	runningMu.Lock()
	for _, in := range running {
		in.cmd.Process.Kill()
	}
	log.Fatalf(format, v...)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func median(ts []time.Duration) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[len(s)/2]
}
