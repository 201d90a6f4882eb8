//go:build unix

package blob

import "syscall"

// allocParts maps anonymous memory for part buffers: outside the Go heap,
// so they do not raise the collector's goal, and given back to the kernel
// by munmap when the upload ends. Only bytes copied in and out touch it;
// no Go pointer is ever stored there.
func allocParts(n int) ([]byte, func([]byte) error, error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	return b, syscall.Munmap, err
}
