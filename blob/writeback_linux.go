package blob

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) to disk now,
// without waiting. Large uploads then reach the final fsync with most of their
// pages already clean, so the fsync no longer stalls for the whole file.
// It is a hint: errors are ignored because the final fsync reports any
// real failure.
func startWriteback(f *os.File, off, n, prev int64) {
	fd := int(f.Fd())
	_ = unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	if off > prev {
		_ = unix.SyncFileRange(fd, prev, off-prev, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	}
}
