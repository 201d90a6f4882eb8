//go:build !linux

package blob

import "os"

// setDirect: direct I/O is used on Linux only; elsewhere blobs are
// written through the page cache.
func setDirect(*os.File, bool) bool { return false }
