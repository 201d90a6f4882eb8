package blob

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The copy is a three-stage pipeline: the caller's goroutine reads chunks,
// one goroutine hashes them and another writes them. Done one after another in
// a single goroutine, receive + hash + write reach about a quarter of the
// machine's SHA-256 rate; overlapped, the slowest stage (hashing) sets the
// pace. Memory is bounded by chunkCount*chunkSize whatever the blob's size.
//
// The writes bypass the page cache (O_DIRECT) where the file system
// allows it. A blob is written once and read later, if ever, so caching
// its pages on the way in only pushes out what is being read (the
// database's pages among them); dirty pages would also make every other
// fsync (the database's commits) wait behind the upload's writeback, and
// on a virtual machine taking fresh pages for the page cache can cost
// more than the disk: 0.4 GB/s against 1.6 GB/s written directly
// (bench/README.md). Where direct I/O is refused, writes go through the
// page cache with writeback started every writebackEvery and waited for
// one step behind, so that dirty pages stay bounded.
const (
	chunkSize  = 1 << 20
	chunkCount = 4
	// directAlign is what O_DIRECT wants buffers, offsets and lengths
	// aligned to: a logical block, 512 or 4096 bytes on today's devices.
	directAlign = 4096
	// writebackEvery is how much is written through the page cache
	// between writeback hints.
	writebackEvery = 8 << 20
)

type chunk struct {
	buf []byte
	n   int
	// users counts the stages (hash, write) still holding the chunk.
	users atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return &chunk{buf: alignedBuf(chunkSize)} }}

// alignedBuf allocates n bytes starting at a multiple of directAlign.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(uintptrOf(b) & (directAlign - 1))
	if off != 0 {
		off = directAlign - off
	}
	return b[off : off+n : off+n]
}

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
		w := newFileWriter(dst)
		for c := range toWrite {
			if writeErr == nil {
				if writeErr = w.write(c.buf[:c.n]); writeErr != nil {
					failed.Store(true)
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

// fileWriter writes a blob's chunks in order: directly while it can, then
// through the page cache.
type fileWriter struct {
	f      *os.File
	direct bool
	// written is the file's length so far; through the page cache,
	// writeback was last started at hinted, and before at prevHint.
	written, hinted, prevHint int64
}

func newFileWriter(f *os.File) *fileWriter {
	return &fileWriter{f: f, direct: setDirect(f, true)}
}

// write writes p, a whole chunk (aligned, its length a multiple of
// directAlign) unless it is the last.
func (w *fileWriter) write(p []byte) error {
	if w.direct {
		n := len(p) &^ (directAlign - 1)
		if n > 0 {
			m, err := w.f.Write(p[:n])
			switch {
			case err == nil:
				p = p[n:]
				w.written += int64(n)
			case m == 0 && errors.Is(err, syscall.EINVAL):
				// Accepted by fcntl, refused by the file system's write:
				// the page cache from here on, this chunk included.
			default:
				return err
			}
		}
		if len(p) == 0 {
			return nil
		}
		// A tail shorter than a block, or a refused direct write.
		w.direct = false
		setDirect(w.f, false)
		w.hinted, w.prevHint = w.written, w.written
	}
	if _, err := w.f.Write(p); err != nil {
		return err
	}
	w.written += int64(len(p))
	if w.written-w.hinted >= writebackEvery {
		startWriteback(w.f, w.hinted, w.written-w.hinted, w.prevHint)
		w.prevHint = w.hinted
		w.hinted = w.written
	}
	return nil
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
