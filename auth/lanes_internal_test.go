package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// A Priority waiter is served before every Normal one, however many queue;
// the Normal lane is bounded (ErrBusy at once beyond QueueLimit); a waiter
// whose request ends leaves the queue. Before, 80 concurrent wrong logins
// held both slots and a valid sign-in waited 19.9 s. The slot is held by
// the test itself (acquire/release), so the order does not depend on how
// long a derivation takes on a loaded machine.
func TestHasherLanes(t *testing.T) {
	h := NewHasher(Params{Time: 1, Memory: 64, Threads: 1}, 1)
	if err := h.acquire(context.Background(), Normal); err != nil { // the slot, held
		t.Fatal(err)
	}
	waitFor := func(priority, normal int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if p, n := h.Waiting(); p == priority && n == normal {
				return
			}
			if time.Now().After(deadline) {
				p, n := h.Waiting()
				t.Fatalf("waiting %d/%d, want %d/%d", p, n, priority, normal)
			}
		}
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	wait := func(name string, lane Lane) {
		defer wg.Done()
		if err := h.acquire(context.Background(), lane); err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		h.release()
	}
	for i := range QueueLimit {
		wg.Add(1)
		go wait(fmt.Sprint("flood", i), Normal)
	}
	waitFor(0, QueueLimit)
	if err := h.acquire(context.Background(), Normal); !errors.Is(err, ErrBusy) {
		t.Fatalf("beyond the Normal lane's bound: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() { gone <- h.acquire(ctx, Priority) }()
	waitFor(1, QueueLimit)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled waiter: %v", err)
	}
	waitFor(0, QueueLimit)
	wg.Add(1)
	go wait("signin", Priority)
	waitFor(1, QueueLimit)
	h.release() // the held slot goes to the next in turn
	wg.Wait()
	if len(order) != QueueLimit+1 || order[0] != "signin" {
		t.Fatalf("order %v: the Priority waiter was not served first", order)
	}
	// Everything released: the next acquire takes a free slot at once.
	if err := h.acquire(context.Background(), Normal); err != nil || h.running != 1 {
		t.Fatalf("after the queue drained: %v, %d running", err, h.running)
	}
}
