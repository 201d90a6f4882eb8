package hangartest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receiver is a webhook receiver for tests: it checks each delivery's
// signature as docs/ci.md tells receivers to, answers with Answer's
// status, and keeps what it got. Set Secret and Answer before deliveries
// start.
type Receiver struct {
	URL    string
	Secret string
	// Answer is the status of the n-th request (from 0); default 204.
	// Answers of 300 and above carry a body a receiver's owner would not
	// want shown ("internal-service-answer").
	Answer func(n int) int

	t   testing.TB
	now func() time.Time
	mu  sync.Mutex
	got []Received
}

// Received is one delivery as it arrived.
type Received struct {
	Event, Delivery string
	Body            []byte
}

// NewReceiver starts a receiver that judges signatures' times by now.
func NewReceiver(t testing.TB, now func() time.Time) *Receiver {
	r := &Receiver{t: t, now: now, Answer: func(int) int { return 204 }}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, Received{Event: r.Header.Get("X-Hangar-Event"), Delivery: r.Header.Get("X-Hangar-Delivery"), Body: body})
	secret := rc.Secret
	rc.mu.Unlock()
	if err := VerifySignature(secret, r.Header.Get("X-Hangar-Signature"), body, rc.now()); err != nil || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("delivery %s: %v", r.Header.Get("X-Hangar-Delivery"), err)
	}
	code := rc.Answer(n)
	w.WriteHeader(code)
	if code >= 300 {
		io.WriteString(w, "internal-service-answer")
	}
}

// Events returns what arrived so far, in order.
func (rc *Receiver) Events() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.got...)
}

// VerifySignature is a receiver's check of X-Hangar-Signature: the HMAC of
// "t.body" under the secret, compared in constant time, within a
// five-minute replay window.
func VerifySignature(secret, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("no timestamp in %q", header)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("outside the replay window: %v", d)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", unix)
	mac.Write(body)
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(sig)) {
		return fmt.Errorf("bad signature")
	}
	return nil
}
