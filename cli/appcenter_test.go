package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hangar/hangartest"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// acClient is App Center's CLI's upload, step by step, against a running
// binary (whose address changes when it is restarted).
type acClient struct {
	t     testing.TB
	token string
	base  func() string
}

func (c acClient) call(method, path, body string) map[string]any {
	c.t.Helper()
	r, _ := http.NewRequest(method, c.base()+path, bytes.NewReader([]byte(body)))
	r.Header.Set("X-API-Token", c.token)
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode >= 300 || json.Unmarshal(raw, &m) != nil {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return m
}

// domain sends an upload domain call to the server as it is now.
func (c acClient) domain(call, asset string, q url.Values, body io.Reader) map[string]any {
	c.t.Helper()
	resp, err := http.Post(c.base()+"/upload/"+call+"/"+asset+"?"+q.Encode(), "application/octet-stream", body)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(raw, &m) != nil {
		c.t.Fatalf("%s: %d %s", call, resp.StatusCode, raw)
	}
	return m
}

// sendBlocks sends the listed blocks of a file of size bytes whose block
// n is block(n), ten at a time.
func (c acClient) sendBlocks(asset, token string, list []any, chunk, size int64, block func(n int64, size int64) io.Reader) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for _, v := range list {
		n := int64(v.(float64))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.domain("upload_chunk", asset, url.Values{"block_number": {fmt.Sprint(n)}, "token": {token}}, block(n, min(chunk, size-(n-1)*chunk)))
		}()
	}
	wg.Wait()
}

// finish ends an upload (finished, PATCH, poll) and returns the release.
func (c acClient) finish(id, asset, token string) map[string]any {
	c.t.Helper()
	if fin := c.domain("finished", asset, url.Values{"token": {token}}, nil); fin["state"] != "Done" {
		c.t.Fatalf("finished: %v", fin)
	}
	c.call("PATCH", "/v0.1/apps/acme/app/uploads/releases/"+id, `{"upload_status":"uploadFinished"}`)
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := c.call("GET", "/v0.1/apps/acme/app/uploads/releases/"+id, "")
		switch {
		case st["upload_status"] == "readyToBePublished":
			return c.call("GET", fmt.Sprintf("/v0.1/apps/acme/app/releases/%d", int64(st["release_distinct_id"].(float64))), "")
		case st["upload_status"] == "error" || time.Now().After(deadline):
			c.t.Fatalf("upload status: %v", st)
		}
	}
}

// pseudoBlock is block n of a file no one holds whole: ChaCha8's stream
// for the block's number, made as it is read.
func pseudoBlock(n, size int64) io.Reader {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(n))
	return io.LimitReader(rand.NewChaCha8(seed), size)
}

// An App Center upload survives kill -9 between its blocks: after the
// restart, set_metadata lists the blocks still missing, the client sends
// them, and the release is the file byte for byte. On the local disk and
// on S3 (the staged blocks are objects of the bucket).
func TestAppCenterUploadSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	t.Run("local", func(t *testing.T) { appCenterUploadSurvivesKill(t, "") })
	t.Run("s3", func(t *testing.T) {
		_, bucket := testBucket(t)
		appCenterUploadSurvivesKill(t, onS3(bucket))
	})
}

func appCenterUploadSurvivesKill(t *testing.T, blobs string) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	srv, cfg := startAppServer(t, bin, filepath.Join(t.TempDir(), "data"), blobs)
	token := firstToken(t, srv.stderr.String())
	c := acClient{t: t, token: token, base: func() string { return srv.base }}
	const size = 5*(4<<20) - 1000 // five blocks
	up := c.call("POST", "/v0.1/apps/acme/app/uploads/releases", `{"build_version":"1.0"}`)
	id, asset, tok := up["id"].(string), up["package_asset_id"].(string), up["url_encoded_token"].(string)
	meta := url.Values{"file_name": {"big.zip"}, "file_size": {fmt.Sprint(size)}, "token": {tok}}
	m := c.domain("set_metadata", asset, meta, nil)
	chunk := int64(m["chunk_size"].(float64))
	c.sendBlocks(asset, tok, m["chunk_list"].([]any)[:3], chunk, size, pseudoBlock)

	srv.kill()
	srv.process = startBinary(t, bin, cfg)
	defer srv.kill()

	m = c.domain("set_metadata", asset, meta, nil)
	if fmt.Sprint(m["chunk_list"]) != "[4 5]" || m["resume_restart"] != false {
		t.Fatalf("after the restart, set_metadata says %v", m)
	}
	c.sendBlocks(asset, tok, m["chunk_list"].([]any), chunk, size, pseudoBlock)
	rel := c.finish(id, asset, tok)
	resp, err := http.Get(rel["download_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	var want bytes.Buffer
	for n := int64(1); n <= 5; n++ {
		io.Copy(&want, pseudoBlock(n, min(chunk, size-(n-1)*chunk)))
	}
	if resp.StatusCode != 200 || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the release's bytes: %d, %d of %d bytes", resp.StatusCode, len(got), want.Len())
	}
}

// BenchmarkAppCenterUpload sends a 64 MiB and a 1 GiB file in App
// Center's blocks (ten at a time) to the binary and reports the server's
// peak resident memory, which stays flat as the file grows (the blocks
// stream to the staging area, the finished file streams into the blob
// store, hashed on the way), and the throughput from the first call to the
// release. Run with -benchtime=1x.
func BenchmarkAppCenterUpload(b *testing.B) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int64{64 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) { benchAppCenterUpload(b, bin, size) })
	}
}

func benchAppCenterUpload(b *testing.B, bin string, size int64) {
	for range b.N {
		data := filepath.Join(b.TempDir(), "data")
		srv := startBenchServer(b, bin, data)
		c := acClient{t: b, token: srv.token, base: func() string { return srv.base }}
		start := time.Now()
		up := c.call("POST", "/v0.1/apps/acme/app/uploads/releases", `{}`)
		id, asset, tok := up["id"].(string), up["package_asset_id"].(string), up["url_encoded_token"].(string)
		m := c.domain("set_metadata", asset, url.Values{"file_name": {"big.zip"}, "file_size": {fmt.Sprint(size)}, "token": {tok}}, nil)
		c.sendBlocks(asset, tok, m["chunk_list"].([]any), int64(m["chunk_size"].(float64)), size, pseudoBlock)
		c.finish(id, asset, tok)
		elapsed := time.Since(start)
		b.ReportMetric(float64(srv.peakRSS(b)), "peak-RSS-MiB")
		b.ReportMetric(float64(size>>20)/elapsed.Seconds(), "MiB/s")
		srv.stop()
	}
}

// benchServer is the binary run by a benchmark: its address, admin token,
// peak memory, and a way to stop it.
type benchServer struct {
	base, token string
	cmd         *exec.Cmd
}

func (s benchServer) peakRSS(tb testing.TB) int { return hangartest.PeakRSS(tb, s.cmd.Process.Pid) }

func (s benchServer) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// startBenchServer starts the binary on a new data directory with the
// acme/app project.
func startBenchServer(b *testing.B, bin, data string) benchServer {
	b.Helper()
	cfg := filepath.Join(b.TempDir(), "hangar.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, "listen = \"127.0.0.1:0\"\ndata_dir = %q\n", data), 0o600)
	cmd := exec.Command(bin, "serve", "-config", cfg)
	stderr := &hangartest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	addr, made := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`), regexp.MustCompile(`password are in`)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a := addr.FindStringSubmatch(stderr.String())
		if a != nil && made.MatchString(stderr.String()) {
			s := benchServer{base: "http://" + a[1], token: firstToken(b, stderr.String()), cmd: cmd}
			for _, req := range [][2]string{{"/api/v1/workspace", `{"slug":"acme"}`}, {"/api/v1/workspace/acme/project", `{"slug":"app"}`}} {
				r, _ := http.NewRequest("POST", s.base+req[0], strings.NewReader(req[1]))
				r.Header.Set("Authorization", "Bearer "+s.token)
				r.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(r)
				if err != nil || resp.StatusCode != 201 {
					b.Fatalf("%s: %v %v", req[0], resp, err)
				}
				resp.Body.Close()
			}
			return s
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			b.Fatalf("hangar did not start: %s", stderr.String())
		}
	}
}
