package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/minio/minio-go/v7"
)

// partsInFlight is how many parts of one upload go to the store side by
// side: one at a time left the upload at 0.68x a direct PutObject
// (BenchmarkS3), because the server-side copy to the content address is a
// second write on the store that parallel parts hide; three of 6 MiB
// measured 0.77-0.82x, four 0.79-0.84x (8 MiB parts: no better), and as
// the buffers are outside the Go heap four cost 6 MiB of RSS more.
const partsInFlight = 4

const maxParts = 10000

// upload streams r into the object key: one PutObject when r ends within
// the first part, else a multipart upload with partsInFlight parts in
// flight. It is written here rather than left to minio-go's PutObject so
// that the part buffers live outside the Go heap (partBuffers): minio-go
// allocates them on the heap per upload, and the collector's goal of twice
// the live heap turned 18 MiB of buffers into ~44 MiB of anonymous memory
// (peak RSS 70 MiB for a 4 GiB upload, against the 64 MiB target).
// On any error the multipart upload is aborted.
func (s *S3Store) upload(ctx context.Context, key string, r io.Reader, limit int64) error {
	// S3 takes at most 10,000 parts: parts grow when the limit needs it.
	size := max(int64(s.partSize), (limit+maxParts-1)/maxParts)
	bufs, err := newPartBuffers(partsInFlight, int(size))
	if err != nil {
		return err
	}
	defer bufs.free()
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true}

	first := bufs.get()
	n, err := io.ReadFull(r, first)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		_, err = s.client.PutObject(ctx, s.bucket, key, bufs.reader(first[:n]), int64(n), opts)
		return err
	}
	if err != nil {
		return err
	}

	core := minio.Core{Client: s.client}
	id, err := core.NewMultipartUpload(ctx, s.bucket, key, opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []minio.CompletePart
	)
	send := func(num int, buf []byte) {
		defer wg.Done()
		defer bufs.put(buf)
		p, err := core.PutObjectPart(ctx, s.bucket, key, id, num, bufs.reader(buf), int64(len(buf)),
			minio.PutObjectPartOptions{DisableContentSha256: true})
		if err != nil {
			cancel(err)
			return
		}
		mu.Lock()
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		mu.Unlock()
	}
	buf := first[:n]
	for num := 1; ; num++ {
		if num > maxParts { // no limit set, and more than 10,000 parts of data
			bufs.put(buf)
			cancel(fmt.Errorf("blob: more than %d parts of %d bytes", maxParts, size))
			break
		}
		wg.Add(1)
		go send(num, buf)
		next := bufs.get()
		n, err = io.ReadFull(r, next)
		if n == 0 && err == io.EOF {
			bufs.put(next)
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			bufs.put(next)
			cancel(err)
			break
		}
		if ctx.Err() != nil { // a part failed: stop reading
			bufs.put(next)
			break
		}
		buf = next[:n]
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id)
		return err
	}
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	if _, err := core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, opts); err != nil {
		core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id)
		return err
	}
	return nil
}

// partBuffers is a fixed set of part buffers for one upload. Where the
// platform allows (partbuf_unix.go) they are mapped outside the Go heap
// and returned to the kernel when the upload ends.
//
// Parts are read through partReader, never as plain slices: net/http may
// still read a request body after RoundTrip has returned (when the store
// answers early), and a read of unmapped memory would kill the process.
// free waits for reads in progress and later ones get an error.
type partBuffers struct {
	ch    chan []byte
	whole []byte
	unmap func([]byte) error
	mu    sync.RWMutex
	freed bool
}

var errPartFreed = errors.New("blob: part read after its upload ended")

type partReader struct {
	b   *partBuffers
	buf []byte
	off int64
}

func (b *partBuffers) reader(buf []byte) *partReader { return &partReader{b: b, buf: buf} }

func (r *partReader) Read(p []byte) (int, error) {
	r.b.mu.RLock()
	defer r.b.mu.RUnlock()
	if r.b.freed {
		return 0, errPartFreed
	}
	if r.off >= int64(len(r.buf)) {
		return 0, io.EOF
	}
	n := copy(p, r.buf[r.off:])
	r.off += int64(n)
	return n, nil
}

// Seek lets minio-go rewind a part to retry it.
func (r *partReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += int64(len(r.buf))
	}
	if offset < 0 {
		return 0, errors.New("blob: seek before a part's start")
	}
	r.off = offset
	return offset, nil
}

func newPartBuffers(n, size int) (*partBuffers, error) {
	whole, unmap, err := allocParts(n * size)
	if err != nil {
		return nil, errors.Join(errors.New("blob: part buffers"), err)
	}
	b := &partBuffers{ch: make(chan []byte, n), whole: whole, unmap: unmap}
	for i := range n {
		b.ch <- whole[i*size : (i+1)*size : (i+1)*size]
	}
	return b, nil
}

func (b *partBuffers) get() []byte    { return <-b.ch }
func (b *partBuffers) put(buf []byte) { b.ch <- buf[:cap(buf)] }

func (b *partBuffers) free() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.freed = true
	b.unmap(b.whole)
}
