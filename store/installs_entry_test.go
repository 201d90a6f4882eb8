package store

import (
	"bytes"
	"testing"

	bolt "go.etcd.io/bbolt"
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

// At the cap, the oldest record goes with all its index entries, whether
// its build entry names the other keys or (made before it did) not.
func TestRemoveAtCap(t *testing.T) {
	s, err := Open(t.TempDir()+"/hangar.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func(old int) { installCap = old }(installCap)
	installCap = 1
	in := Install{WorkspaceID: "ws", BuildID: "b", DistributionID: "d", Tester: "ana@example.com", Kind: InstallKindDownload}
	for _, oldEntry := range []bool{false, true} {
		err := s.db.Update(func(tx *bolt.Tx) error {
			if err := recordInstall(tx, in); err != nil {
				return err
			}
			if oldEntry { // as schema 7 wrote it: the sequence number alone
				idx := tx.Bucket(bucketInstallIndex)
				k, v := idx.Cursor().Seek(key(installByBuild("b"), ""))
				if err := idx.Put(bytes.Clone(k), v[:8]); err != nil {
					return err
				}
			}
			return recordInstall(tx, in) // takes the first one's place
		})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := s.BucketStats()
		// One record: its build, distribution and tester entries, and the count.
		if st["installs"] != 1 || st["install_index"] != 4 {
			t.Fatalf("old entry %v: %d records, %d index entries", oldEntry, st["installs"], st["install_index"])
		}
	}
}
