package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The committer gives each call its own outcome: a failing call does not
// fail the others that shared its transaction, and its writes are not
// kept; every successful call's writes are.
func TestCommitterIsolatesFailures(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err })
	c := &committer{db: db}
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Go(func() {
			errs[i] = c.do(func(tx *bolt.Tx) error {
				if err := tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
					return err
				}
				if i%7 == 0 {
					return boom // after writing: the write must not stay
				}
				return nil
			})
		})
	}
	wg.Wait()
	kept := 0
	db.View(func(tx *bolt.Tx) error {
		kept = tx.Bucket([]byte("b")).Stats().KeyN
		return nil
	})
	want := 0
	for i, err := range errs {
		switch {
		case i%7 == 0 && !errors.Is(err, boom), i%7 != 0 && err != nil:
			t.Errorf("call %d: %v", i, err)
		case i%7 != 0:
			want++
		}
	}
	if kept != want {
		t.Fatalf("%d keys kept, want %d", kept, want)
	}
	// The last leader lets go just after answering its group.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		running, queued := c.running, len(c.queue)
		c.mu.Unlock()
		if !running && queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the committer did not come to rest: running %v, %d queued", running, queued)
		}
	}
}
