// Package pace keeps background work (gc, retention, fsck) from delaying
// requests on a machine with few cores.
//
// Go's scheduler takes a processor back from a running goroutine only
// after about 10 ms. A request hops between goroutines several times (its
// connection's, the batch that commits its access, back again), and each
// hop can find both processors of a 2-core machine held by background
// loops: measured at a million builds, redirects waited 10–35 ms per hop
// as runnable goroutines and took up to 164 ms while gc, retention and
// fsck ran, though no commit took more than 25 ms.
package pace

import (
	"runtime"
	"sync"
	"time"
)

// Slice is how long background work runs before it offers its processor
// to whatever is waiting for one.
const Slice = 500 * time.Microsecond

// Worker paces one background loop.
type Worker struct {
	since time.Time
}

// Step is called between small units of work (a key, a file, a build):
// after a slice it yields the processor, and the loop goes on once the
// goroutines that were waiting have had their turn.
func (w *Worker) Step() {
	now := time.Now()
	if w.since.IsZero() {
		w.since = now
		return
	}
	if now.Sub(w.since) >= Slice {
		runtime.Gosched()
		w.since = time.Now()
	}
}

// Rest sleeps as long as the work since began took, so that a loop
// calling it between batches works half the time at most.
func Rest(began time.Time) {
	time.Sleep(time.Since(began))
}

// turn is held by the one batch of background work running, through its
// rest: gc, retention and a live fsck started together used to hold both
// processors of a 2-core machine between them.
var turn sync.Mutex

// Batch runs one batch of background work (a transaction of a sweep, one
// build's deletion, a shard of a live fsck) once no other batch runs or
// rests, then rests as long as it took before letting the next one run.
// All background work together thus takes at most half of one processor
// and of the database's write lock. Batches must not nest.
func Batch(fn func() error) error {
	turn.Lock()
	defer turn.Unlock()
	began := time.Now()
	err := fn()
	Rest(began)
	return err
}
