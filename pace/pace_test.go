package pace_test

import (
	"runtime"
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
