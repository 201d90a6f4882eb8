package store

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer shares write transactions between concurrent callers (group
// commit) without a timer: a call that finds no commit running commits at
// once, alone; calls that arrive while one runs wait for it and share the
// next, up to maxGroup. A lone download then costs one commit and no
// wait, where bbolt's Batch waits MaxBatchDelay (2 ms) for company that
// never comes; under load each commit (one fsync) carries everything that
// arrived during the one before.
//
// As with bbolt's Batch, fn may run more than once (when another call in
// its group fails, the group is run again without it), so it must only
// read and write the transaction and reset what it reports.
type committer struct {
	db      *bolt.DB
	mu      sync.Mutex
	queue   []*groupCall
	running bool
}

// maxGroup bounds one transaction's calls, as bbolt's MaxBatchSize did
// (64 measured best of 8–64 with 64 clients: bench/README.md).
const maxGroup = 64

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// errSolo marks the call that failed a shared transaction: it is run again
// alone, so its error is its own.
var errSolo = errors.New("store: run alone")

func (c *committer) do(fn func(*bolt.Tx) error) error {
	call := &groupCall{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		c.lead()
	}
	return <-call.done
}

// lead commits the queue group by group until it is empty. The caller
// that found no commit running leads its own group; once that is done a
// new goroutine leads the next, so that no caller waits for others'
// commits after its own.
func (c *committer) lead() {
	c.mu.Lock()
	n := min(len(c.queue), maxGroup)
	group := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()

	c.commit(group)

	c.mu.Lock()
	if len(c.queue) == 0 {
		c.running = false
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	go c.lead()
}

// commit runs a group in one transaction. When one call fails, the
// transaction is rolled back, that call runs alone, and the others are
// committed again without it.
func (c *committer) commit(group []*groupCall) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, call := range group {
				if err := call.fn(tx); err != nil {
					failed = i
					return errSolo
				}
			}
			return nil
		})
		if failed < 0 {
			for _, call := range group {
				call.done <- err
			}
			return
		}
		solo := group[failed]
		solo.done <- c.db.Update(solo.fn)
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}
