package blob

import (
	"errors"
	"io"
	"testing"
)

// A part read after its upload ended (net/http may read a request body
// after RoundTrip returned) gets an error instead of touching unmapped
// memory, which would kill the process.
func TestPartReadAfterFree(t *testing.T) {
	bufs, err := newPartBuffers(2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	buf := bufs.get()
	copy(buf, "part one")
	r := bufs.reader(buf[:8])
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "part one" {
		t.Fatalf("read: %q %v", got, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	bufs.free()
	if _, err := r.Read(make([]byte, 8)); !errors.Is(err, errPartFreed) {
		t.Fatalf("read after free: %v", err)
	}
}
