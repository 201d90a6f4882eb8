package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// kill -9 while a webhook delivery is on the wire (after the build was
// processed, before the receiver's answer was recorded): after a restart
// the event is delivered, with the same delivery ID.
func TestWebhookSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	webhookSurvivesKill(t, "")
}

// The same with the build's package in a bucket.
func TestWebhookSurvivesKillS3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	_, bucket := testBucket(t)
	webhookSurvivesKill(t, onS3(bucket))
}

func webhookSurvivesKill(t *testing.T, blobs string) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu         sync.Mutex
		deliveries []string
	)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		deliveries = append(deliveries, r.Header.Get("X-Hangar-Delivery"))
		first := len(deliveries) == 1
		mu.Unlock()
		if first {
			arrived <- struct{}{}
			<-release // the sender is killed meanwhile
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	defer close(release)

	data := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "hangar.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\nwebhook_allowed_networks = [\"127.0.0.1/32\"]\n%s", data, blobs)), 0o600)
	p := startBinary(t, bin, cfg)
	admin := firstToken(t, p.stderr.String())
	call := func(base, method, path, body string, want int) []byte {
		t.Helper()
		r, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+admin)
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	call(p.base, "POST", "/api/v1/workspace", `{"slug":"acme"}`, 201)
	call(p.base, "POST", "/api/v1/workspace/acme/project", `{"slug":"app"}`, 201)
	var hook struct{ ID string }
	json.Unmarshal(call(p.base, "POST", "/api/v1/workspace/acme/project/app/webhook", `{"url":"`+receiver.URL+`","events":["build.processed"]}`, 201), &hook)
	call(p.base, "POST", "/api/v1/workspace/acme/project/app/build", `{"version":"1.0"}`, 201) // no package: processed at once

	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatalf("no delivery: %s", p.stderr.String())
	}
	p.kill()

	p = startBinary(t, bin, cfg)
	defer p.kill()
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), deliveries...)
		mu.Unlock()
		if len(got) >= 2 {
			if got[0] == "" || got[1] != got[0] {
				t.Fatalf("delivery IDs %v: the retry must carry the first one's", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered after the restart: %v\n%s", got, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The answer is recorded just after the receiver sent it.
	var log []struct{ State string }
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		json.Unmarshal(call(p.base, "GET", "/api/v1/workspace/acme/project/app/webhook/"+hook.ID+"/deliveries", "", 200), &log)
		if len(log) == 1 && log[0].State == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log after the restart: %+v", log)
		}
	}
}
