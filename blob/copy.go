package blob

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// The copy is a three-stage pipeline: the caller's goroutine reads chunks,
// one goroutine hashes them and another writes them. Done one after another in
// a single goroutine, receive + hash + write reach about a quarter of the
// machine's SHA-256 rate; overlapped, the slowest stage (hashing) sets the
// pace. Memory is bounded by chunkCount*chunkSize whatever the blob's size.
const (
	chunkSize  = 1 << 20
	chunkCount = 4
	// writebackEvery is how much is written between writeback hints.
	writebackEvery = 8 << 20
)

type chunk struct {
	buf []byte
	n   int
	// users counts the stages (hash, write) still holding the chunk.
	users atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, chunkSize)} }}

// copyHashed copies r to dst while computing its SHA-256. If limit > 0 and r
// has more than limit bytes, it returns ErrTooLarge after reading at most
// limit+1 bytes.
func copyHashed(dst *os.File, r io.Reader, limit int64) (Ref, int64, error) {
	if limit > 0 {
		r = io.LimitReader(r, limit+1)
	}
	free := make(chan *chunk, chunkCount)
	for range chunkCount {
		free <- chunkPool.Get().(*chunk)
	}
	defer func() {
		for range chunkCount {
			chunkPool.Put(<-free)
		}
	}()
	release := func(c *chunk) {
		if c.users.Add(-1) == 0 {
			free <- c
		}
	}

	toHash := make(chan *chunk, chunkCount)
	toWrite := make(chan *chunk, chunkCount)
	h := sha256.New()
	var (
		wg       sync.WaitGroup
		writeErr error
		failed   atomic.Bool
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for c := range toHash {
			h.Write(c.buf[:c.n])
			release(c)
		}
	}()
	go func() {
		defer wg.Done()
		var written, hinted, prevHint int64
		for c := range toWrite {
			if writeErr == nil {
				_, writeErr = dst.Write(c.buf[:c.n])
				if writeErr != nil {
					failed.Store(true)
				}
				written += int64(c.n)
				if written-hinted >= writebackEvery {
					startWriteback(dst, hinted, written-hinted, prevHint)
					prevHint = hinted
					hinted = written
				}
			}
			release(c)
		}
	}()

	var total int64
	var readErr error
	for !failed.Load() {
		c := <-free
		n, err := fill(r, c.buf)
		if n > 0 {
			c.n = n
			c.users.Store(2)
			total += int64(n)
			toHash <- c
			toWrite <- c
		} else {
			free <- c
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if limit > 0 && total > limit {
			break
		}
	}
	close(toHash)
	close(toWrite)
	wg.Wait()

	switch {
	case readErr != nil:
		return Ref{}, 0, fmt.Errorf("%w: %w", ErrRead, readErr)
	case writeErr != nil:
		return Ref{}, 0, diskErr("write temp file", writeErr)
	case limit > 0 && total > limit:
		return Ref{}, 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	var ref Ref
	h.Sum(ref[:0])
	return ref, total, nil
}

// fill reads into buf until it is full or r fails. Unlike io.ReadFull it
// returns io.EOF for an end of content after a partial buffer, and passes
// every other error through, io.ErrUnexpectedEOF included: net/http reports
// a body cut short of its Content-Length that way, and such an upload must
// fail, not be stored truncated.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
