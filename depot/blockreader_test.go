package depot

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

type countingReaderAt struct {
	r     *bytes.Reader
	reads int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

// Reads of any size at any offset return the object's bytes; many small
// reads of one region cost one read of the object per block.
func TestBlockReader(t *testing.T) {
	data := make([]byte, 3*blockSize+1234)
	rand.Read(data)
	src := &countingReaderAt{r: bytes.NewReader(data)}
	br := newBlockReader(src, io.NopCloser(nil), int64(len(data)))
	for _, c := range []struct{ off, n int }{{0, 10}, {blockSize - 5, 10}, {2*blockSize + 100, blockSize}, {len(data) - 3, 3}, {0, len(data)}} {
		got := make([]byte, c.n)
		if n, err := br.ReadAt(got, int64(c.off)); n != c.n || (err != nil && err != io.EOF) || !bytes.Equal(got, data[c.off:c.off+c.n]) {
			t.Fatalf("ReadAt(%d, %d): %d %v", c.off, c.n, n, err)
		}
	}
	if n, err := br.ReadAt(make([]byte, 10), int64(len(data)-4)); n != 4 || err != io.EOF {
		t.Fatalf("past the end: %d %v", n, err)
	}
	// A zip directory's small reads, on a fresh reader: one read of the
	// object per block they span.
	src = &countingReaderAt{r: bytes.NewReader(data)}
	br = newBlockReader(src, io.NopCloser(nil), int64(len(data)))
	for off := 0; off < 2*blockSize; off += 4096 {
		br.ReadAt(make([]byte, 4096), int64(off))
	}
	if src.reads != 2 {
		t.Errorf("%d reads of the object for 2 blocks", src.reads)
	}
}
