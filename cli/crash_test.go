package cli

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hangar/hangartest"
	"io"
	mrand "math/rand/v2"
	"net/http"
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

// buildBinary compiles hangar once per test run, as CI ships it.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hangar-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hangar")
	cmd := exec.Command("go", "build", "-o", bin, "..") // the hangar binary, from the repository root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a running hangar binary.
type process struct {
	cmd    *exec.Cmd
	base   string
	stderr *hangartest.SyncBuffer
}

func startBinary(t *testing.T, bin, cfg string) *process {
	t.Helper()
	return startCommand(t, exec.Command(bin, "serve", "-config", cfg))
}

// startCommand starts a command that runs hangar serve and waits for it to
// listen.
func startCommand(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, stderr: &hangartest.SyncBuffer{}}
	pr, pw := io.Pipe()
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.stderr.Write(append(sc.Bytes(), '\n'))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("hangar did not start: %s", p.stderr.String())
	}
	return p
}

func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// upload is one upload whose outcome the client saw (201).
type upload struct {
	fileID, sum string
	// deleting: a DELETE was sent; its outcome is known only if deleted
	// is set (204). One cut off by the kill may or may not have committed.
	deleting, deleted bool
}

func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary 20 times")
	}
	crashConsistency(t, "", 20)
}

// The same with blobs in an S3 bucket: what a kill cuts off leaves at most
// temporary objects, never a file without its object.
func TestCrashConsistencyS3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary 10 times")
	}
	_, bucket := testBucket(t)
	crashConsistency(t, onS3(bucket), 10)
}

// crashConsistency uploads and deletes files from three clients, kills
// the binary with SIGKILL at a random moment, runs fsck, restarts, and
// checks that everything the clients saw complete is as they saw it,
// rounds times.
func crashConsistency(t *testing.T, blobs string, rounds int) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n%s", data, blobs)), 0o600)

	p := startBinary(t, bin, cfg)
	admin := firstToken(t, p.stderr.String())
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(base, method, path string, body io.Reader, ctype string) (int, []byte, error) {
		r, _ := http.NewRequest(method, base+path, body)
		r.Header.Set("Authorization", "Bearer "+admin)
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		resp, err := client.Do(r)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	mustCall := func(method, path, body string, want int) []byte {
		code, b, err := call(p.base, method, path, strings.NewReader(body), "application/json")
		if err != nil || code != want {
			t.Fatalf("%s %s: %d %v %s", method, path, code, err, b)
		}
		return b
	}
	mustCall("POST", "/api/v1/workspace", `{"slug":"acme"}`, 201)
	mustCall("POST", "/api/v1/workspace/acme/project", `{"slug":"app"}`, 201)
	var build struct{ BuildID string }
	json.Unmarshal(mustCall("POST", "/api/v1/workspace/acme/project/app/build", `{}`, 201), &build)
	proj := "/api/v1/workspace/acme/project/app"

	// A few contents, so that uploads share blobs and deletes race uploads
	// of the same content.
	contents := make([][]byte, 6)
	for i := range contents {
		contents[i] = make([]byte, (i+1)*300_000)
		rand.Read(contents[i])
	}
	var (
		mu      sync.Mutex
		uploads []*upload
	)

	// check verifies what the client saw complete: uploads download
	// byte-identical, deletes stay deleted.
	check := func(base string) {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range uploads {
			if u.deleting && !u.deleted {
				continue // unknown outcome
			}
			code, signed, err := call(base, "GET", proj+"/build/file/"+u.fileID, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if u.deleted {
				if code != 404 {
					t.Fatalf("file %s was deleted (204) but answers %d after a crash", u.fileID, code)
				}
				continue
			}
			if code != 200 {
				t.Fatalf("file %s was stored (201) but answers %d after a crash: %s", u.fileID, code, signed)
			}
			resp, err := client.Get(string(signed))
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			io.Copy(h, resp.Body)
			resp.Body.Close()
			if got := fmt.Sprintf("%x", h.Sum(nil)); resp.StatusCode != 200 || got != u.sum {
				t.Fatalf("file %s after a crash: status %d, sha256 %s, want %s", u.fileID, resp.StatusCode, got, u.sum)
			}
		}
	}

	for round := 0; round < rounds; round++ {
		if round > 0 {
			p = startBinary(t, bin, cfg)
			check(p.base)
		}
		mu.Lock()
		before := len(uploads)
		mu.Unlock()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					var victim *upload
					if len(uploads) > 0 && mrand.IntN(3) == 0 {
						if u := uploads[mrand.IntN(len(uploads))]; !u.deleting {
							victim = u
							u.deleting = true
						}
					}
					mu.Unlock()
					if victim != nil {
						code, _, err := call(p.base, "DELETE", proj+"/build/file/"+victim.fileID, nil, "")
						if err == nil && code == 204 {
							mu.Lock()
							victim.deleted = true
							mu.Unlock()
						}
						continue
					}
					c := contents[mrand.IntN(len(contents))]
					code, b, err := call(p.base, "POST", proj+"/build/"+build.BuildID+"/file?name=f.bin", bytes.NewReader(c), "application/octet-stream")
					var files []struct{ FileID, Checksum string }
					if err == nil && code == 201 && json.Unmarshal(b, &files) == nil {
						mu.Lock()
						uploads = append(uploads, &upload{fileID: files[0].FileID, sum: files[0].Checksum})
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(20+mrand.IntN(200)) * time.Millisecond)
		// On a loaded machine (CI runs packages side by side) the first
		// upload of a round may take longer than the sleep: wait for one
		// (5 s at most), so that every round kills the server amid work.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			done := len(uploads) > before
			mu.Unlock()
			if done {
				break
			}
		}
		p.kill() // SIGKILL: no shutdown, no flush
		close(stop)
		wg.Wait()

		var out, errOut bytes.Buffer
		fsck := exec.Command(bin, "fsck", "-config", cfg)
		fsck.Stdout, fsck.Stderr = &out, &errOut
		if err := fsck.Run(); err != nil {
			t.Fatalf("round %d: fsck after kill -9: %v\n%s%s", round, err, out.String(), errOut.String())
		}
		if regexp.MustCompile(`(?m)^problem`).MatchString(out.String()) {
			t.Fatalf("round %d: fsck found problems:\n%s", round, out.String())
		}
	}
	p = startBinary(t, bin, cfg)
	check(p.base)
	p.kill()
	// Uploads cut off by the kills left temp files; the start removed them.
	// (A bucket's temporary objects wait a day for the housekeeping.)
	if tmp, _ := os.ReadDir(filepath.Join(data, "blobs", "tmp")); len(tmp) != 0 {
		t.Fatalf("%d temp files after a restart", len(tmp))
	}
	mu.Lock()
	n := len(uploads)
	mu.Unlock()
	if n < rounds {
		t.Fatalf("only %d uploads completed in %d rounds: the test did too little to mean anything", n, rounds)
	}
	t.Logf("%d uploads completed across %d kills; every one checked after each restart", n, rounds)
}
