package blob

import (
	"bytes"
	"crypto/rand"
	"os"
	"runtime"
	"testing"
)

// A blob's bytes come out the same whatever mix of direct and cached
// writes stored them: direct whole chunks then a tail shorter than a
// block, and a direct write the file system refuses (a buffer that is not
// aligned is refused by every file system that takes O_DIRECT).
func TestFileWriter(t *testing.T) {
	content := make([]byte, 3*chunkSize+1000)
	rand.Read(content)
	for _, tc := range []struct {
		name    string
		shifted bool // the buffer starts 1 byte past an aligned address
	}{{"direct then a short tail", false}, {"direct write refused", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.CreateTemp(t.TempDir(), "w-")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := newFileWriter(f)
			direct := w.direct
			if !direct {
				if runtime.GOOS == "linux" {
					t.Log("this file system takes no direct I/O: cached writes only")
				}
			}
			buf := alignedBuf(chunkSize + directAlign)
			if tc.shifted && direct && !refusesUnaligned(t, buf) {
				t.Skip("this file system takes unaligned direct writes (tmpfs does): none is refused here")
			}
			for off := 0; off < len(content); off += chunkSize {
				n := min(chunkSize, len(content)-off)
				p := buf[:n]
				if tc.shifted {
					p = buf[1 : 1+n]
				}
				copy(p, content[off:])
				if err := w.write(p); err != nil {
					t.Fatal(err)
				}
				if direct && tc.shifted && w.direct {
					t.Fatal("still direct after a refused write")
				}
			}
			if direct && w.direct {
				t.Error("still direct after a tail shorter than a block")
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, content) {
				t.Fatalf("read back %d bytes, not the %d written", len(got), len(content))
			}
		})
	}
}

// refusesUnaligned says whether the test's file system refuses a direct
// write from an unaligned buffer.
func refusesUnaligned(t *testing.T, buf []byte) bool {
	f, err := os.CreateTemp(t.TempDir(), "probe-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !setDirect(f, true) {
		return false
	}
	_, err = f.Write(buf[1 : 1+directAlign])
	return err != nil
}

func TestAlignedBuf(t *testing.T) {
	for range 8 {
		b := alignedBuf(5000)
		if len(b) != 5000 || cap(b) != 5000 || uintptrOf(b)%directAlign != 0 {
			t.Fatalf("len %d cap %d at %#x", len(b), cap(b), uintptrOf(b))
		}
	}
}
