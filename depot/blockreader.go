package depot

import (
	"io"
	"sync"
)

// blockReader reads a remote object in blocks of blockSize, keeping the
// last maxBlocks: reading a package (a zip's central directory in small
// reads, then a few entries) costs a few ranged GETs of the bucket instead
// of one per read, in bounded memory.
type blockReader struct {
	r    io.ReaderAt
	c    io.Closer
	size int64

	mu     sync.Mutex
	blocks map[int64][]byte
	order  []int64 // oldest first
}

const (
	blockSize = 512 << 10
	maxBlocks = 8 // 4 MiB per package being read
)

func newBlockReader(r io.ReaderAt, c io.Closer, size int64) *blockReader {
	return &blockReader{r: r, c: c, size: size, blocks: map[int64][]byte{}}
}

func (b *blockReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= b.size {
			return n, io.EOF
		}
		block, err := b.block(at / blockSize * blockSize)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], block[at%blockSize:])
	}
	return n, nil
}

// block returns the block starting at start, from the cache or the object.
func (b *blockReader) block(start int64) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if blk, ok := b.blocks[start]; ok {
		return blk, nil
	}
	blk := make([]byte, min(blockSize, b.size-start))
	if _, err := b.r.ReadAt(blk, start); err != nil && err != io.EOF {
		return nil, err
	}
	if len(b.order) == maxBlocks {
		delete(b.blocks, b.order[0])
		b.order = b.order[1:]
	}
	b.blocks[start] = blk
	b.order = append(b.order, start)
	return blk, nil
}

func (b *blockReader) Close() error { return b.c.Close() }
