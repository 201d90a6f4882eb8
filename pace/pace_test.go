package pace_test

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hangar/pace"
)

// ticks counts how often a goroutine that sleeps 1 ms at a time gets to
// run while a busy loop holds the only processor for 100 ms.
func ticks(step func()) int64 {
	var n atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(time.Millisecond)
			n.Add(1)
		}
	}()
	time.Sleep(5 * time.Millisecond) // the ticker is asleep
	n.Store(0)
	for t0 := time.Now(); time.Since(t0) < 100*time.Millisecond; {
		step()
	}
	got := n.Load()
	close(stop)
	<-done
	return got
}

// TestStepLetsOthersRun: a busy loop that steps lets a waiting goroutine
// run many times more often than Go's preemption alone (every 10 ms) does.
func TestStepLetsOthersRun(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	alone := ticks(func() {})
	var w pace.Worker
	paced := ticks(w.Step)
	t.Logf("ticks in 100 ms: %d without Step, %d with", alone, paced)
	if paced < 3*max(alone, 5) {
		t.Fatalf("a stepping loop let the other goroutine run %d times in 100 ms, a loop without Step %d: Step does not yield", paced, alone)
	}
}

func TestRestLastsAsLongAsTheWork(t *testing.T) {
	began := time.Now().Add(-20 * time.Millisecond)
	t0 := time.Now()
	pace.Rest(began)
	if d := time.Since(t0); d < 20*time.Millisecond {
		t.Fatalf("rested %v after 20 ms of work", d)
	}
}

// TestBatchOneAtATime: batches of several loops never overlap, and each
// holds the turn through its rest, so that loops together work half the
// time.
func TestBatchOneAtATime(t *testing.T) {
	var active, most atomic.Int32
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 3 {
		wg.Go(func() {
			for range 4 {
				pace.Batch(func() error {
					n := active.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					active.Add(-1)
					return nil
				})
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d batches ran at once", most.Load())
	}
	// 12 batches of 2 ms, each followed by a rest as long, one at a time.
	if d := time.Since(t0); d < 48*time.Millisecond {
		t.Fatalf("12 batches of 2 ms took %v: they did not rest one at a time", d)
	}
}

func TestBatchReturnsTheError(t *testing.T) {
	want := errors.New("x")
	if err := pace.Batch(func() error { return want }); err != want {
		t.Fatalf("Batch returned %v", err)
	}
}
