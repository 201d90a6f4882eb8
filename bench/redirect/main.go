// Command redirect holds bench/run's bare Go references, on the address
// given as its first argument:
//
//   - any path: http.Redirect, nothing else (the public-link figure's
//     reference);
//   - /counted: a redirect that first adds one to a counter in a bbolt
//     database in DB_DIR, durably, concurrent requests sharing a commit
//     (what one fsync'd commit per group of downloads allows on this
//     disk, with none of a download's own work);
//   - /files/...: http.FileServer over BLOB_DIR (Go's sendfile path, as
//     Hangar's downloads).
package main

import (
	"encoding/binary"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: redirect ADDR DB_DIR BLOB_DIR")
	}
	target := "http://" + os.Args[1] + "/dl/AAAAAAAAAAAAAAAAAAAAAA/app.ipa?exp=1800000000&kid=k&sig=s"
	db, err := bolt.Open(filepath.Join(os.Args[2], "counted.db"), 0o600, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("c")); return err }); err != nil {
		log.Fatal(err)
	}
	g := &group{db: db}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(os.Args[3]))))
	mux.HandleFunc("/counted", func(w http.ResponseWriter, r *http.Request) {
		if err := g.do(count); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	})
	log.Fatal(http.ListenAndServe(os.Args[1], mux))
}

func count(tx *bolt.Tx) error {
	b := tx.Bucket([]byte("c"))
	var n uint64
	if v := b.Get([]byte("n")); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	return b.Put([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1))
}

// group is the smallest group commit: a call that finds no commit
// running commits at once; calls that arrive meanwhile share the next.
type group struct {
	db      *bolt.DB
	mu      sync.Mutex
	queue   []call
	running bool
}

func (g *group) do(fn func(*bolt.Tx) error) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.queue = append(g.queue, call{fn, done})
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	return <-done
}

type call struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// lead commits what is queued, then hands the next group to a new
// goroutine, so that no caller waits for others' commits after its own.
func (g *group) lead() {
	g.mu.Lock()
	calls := g.queue
	g.queue = nil
	g.mu.Unlock()
	err := g.db.Update(func(tx *bolt.Tx) error {
		for _, c := range calls {
			if err := c.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range calls {
		c.done <- err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.running = false
		return
	}
	go g.lead()
}
