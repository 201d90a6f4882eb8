package store

import (
	"bytes"
	"testing"
)

// A build index entry names the record's other keys, or says it does not
// (the entries made before it did): then the record is read to remove it.
func TestBuildEntry(t *testing.T) {
	keys := [][]byte{[]byte("d/dist/0000000000000007"), []byte("t/ws/ana@example.com\x00/0000000000000007")}
	for _, others := range [][][]byte{nil, keys[:1], keys} {
		seq, got, ok := parseBuildEntry(buildEntry(7, others))
		if !ok || seq != 7 || len(got) != len(others) {
			t.Fatalf("%q: %d %q %v", others, seq, got, ok)
		}
		for i := range got {
			if !bytes.Equal(got[i], others[i]) {
				t.Fatalf("%q: %q", others, got)
			}
		}
	}
	for _, v := range [][]byte{u64(7), {1, 2}, append(u64(7), 200), append(u64(7), 5, 'a')} {
		if _, _, ok := parseBuildEntry(v); ok {
			t.Fatalf("%x: read as naming the other keys", v)
		}
	}
}
