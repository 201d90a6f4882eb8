// Command uploadphases shows where an upload's time goes on this machine:
// each phase of storing a file alone (reading it, hashing it, writing it
// into the page cache, the fsync that makes it durable), the same phases
// one after another, and blob.Store.Put, which overlaps them as Hangar's
// uploads do. bench/run prints its table beside the HTTP upload's.
//
//	go run ./bench/uploadphases -dir /var/tmp FILE...
//
// The files are read from the page cache (each is read once first), and
// written to dir, which must be on the disk under test, not a tmpfs.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"hangar/blob"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "a directory on the disk under test")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: uploadphases [-dir DIR] FILE...")
	}
	work, err := os.MkdirTemp(*dir, "uploadphases-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	for _, name := range flag.Args() {
		if err := phases(name, work); err != nil {
			log.Fatal(err)
		}
	}
}

func phases(name, work string) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	size := st.Size()
	if err := readAll(name, io.Discard); err != nil { // into the page cache
		return err
	}
	var read, hash, write, fsync, put time.Duration
	read, err = timed(func() error { return readAll(name, io.Discard) })
	if err != nil {
		return err
	}
	hash, err = timed(func() error { return readAll(name, sha256.New()) })
	if err != nil {
		return err
	}
	out := filepath.Join(work, "copy")
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	write, err = timed(func() error { return readAll(name, f) })
	if err == nil {
		fsync, err = timed(f.Sync)
	}
	f.Close()
	os.Remove(out)
	if err != nil {
		return err
	}
	// Let the disk settle between the plain write's flush and Put's.
	time.Sleep(time.Second)
	store, err := blob.Open(filepath.Join(work, "blobs"))
	if err != nil {
		return err
	}
	var info blob.Info
	put, err = timed(func() error {
		in, err := os.Open(name)
		if err != nil {
			return err
		}
		defer in.Close()
		info, err = store.Put(in, 0, nil)
		return err
	})
	if err != nil {
		return err
	}
	if err := store.Remove(info.Ref); err != nil {
		return err
	}

	fmt.Printf("%s, %d MiB\n", filepath.Base(name), size>>20)
	row := func(what string, d time.Duration) {
		fmt.Printf("  %-44s %8.2f s %8.0f MB/s\n", what, d.Seconds(), float64(size)/d.Seconds()/1e6)
	}
	row("read (from the page cache)", read)
	row("SHA-256", hash)
	row("write into the page cache", write)
	row("fsync of that write", fsync)
	row("write + fsync (what dd conv=fsync does)", write+fsync)
	row("read + hash + write + fsync, one after another", read+hash+write+fsync)
	row("blob.Put (overlapped, direct I/O, fsync)", put)
	return nil
}

func readAll(name string, w io.Writer) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(w, struct{ io.Reader }{f}, make([]byte, 1<<20))
	return err
}

func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}
