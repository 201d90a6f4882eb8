package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// A project's builds are indexed by sequence number (project_builds), which
// lets a page continue after a cursor by seeking. A page asked for by
// number must also start at an offset without walking every build before
// it, so the index is counted: build_counts holds, per project, how many of
// its builds fall in each block of 2^8 sequence numbers (level 1) and of
// 2^16 (level 2). Finding the build at offset n from the newest walks the
// level-2 counts, then at most 256 level-1 counts, then at most 256 index
// keys: a page costs O(limit + sequence/2^16), not O(offset).

const (
	rankShift1 = 8
	rankShift2 = 16
)

// rankKey is projectID/level/ and the block number in 8 bytes, big-endian
// (cheap to decode in a walk, and ordered).
func rankKey(projectID string, level int, block uint64) []byte {
	return binary.BigEndian.AppendUint64(rankPrefix(projectID, level), block)
}

func rankPrefix(projectID string, level int) []byte {
	return key(projectID, strconv.Itoa(level), "")
}

// rankAdd counts a build with sequence seq in (delta 1) or out (-1) of its
// project's blocks.
func rankAdd(tx *bolt.Tx, projectID string, seq uint64, delta int64) error {
	b := tx.Bucket(bucketBuildCounts)
	for level, shift := range map[int]int{1: rankShift1, 2: rankShift2} {
		k := rankKey(projectID, level, seq>>shift)
		var n int64
		if v := b.Get(k); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		n += delta
		var err error
		if n <= 0 {
			err = b.Delete(k)
		} else {
			err = b.Put(k, u64(uint64(n)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rankSeek returns the project_builds key of the build at offset from the
// newest (0: the newest), or nil when the project has no more builds.
func rankSeek(tx *bolt.Tx, projectID string, offset int) []byte {
	counts := tx.Bucket(bucketBuildCounts).Cursor()
	// skipBlocks walks the counted blocks of one level downwards from
	// first (inclusive) to the level's lowest block at or above floor,
	// passing over whole blocks while they fit in offset. It returns the
	// block the offset falls in.
	skipBlocks := func(level int, from, floor uint64) (uint64, bool) {
		prefix := rankPrefix(projectID, level)
		start := rankKey(projectID, level, from)
		k, v := counts.Seek(start)
		switch {
		case k == nil:
			k, v = counts.Last()
		case !bytes.Equal(k, start):
			k, v = counts.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = counts.Prev() {
			rest := k[len(prefix):]
			if len(rest) != 8 || len(v) != 8 {
				return 0, false
			}
			block := binary.BigEndian.Uint64(rest)
			if block < floor {
				return 0, false
			}
			n := int(binary.BigEndian.Uint64(v))
			if offset < n {
				return block, true
			}
			offset -= n
		}
		return 0, false
	}
	b2, ok := skipBlocks(2, ^uint64(0)>>rankShift2, 0)
	if !ok {
		return nil
	}
	shift := rankShift2 - rankShift1
	b1, ok := skipBlocks(1, b2<<shift|(1<<shift-1), b2<<shift)
	if !ok {
		return nil
	}
	// Within the level-1 block: at most 2^8 keys.
	index := tx.Bucket(bucketProjectBuilds).Cursor()
	low := buildSeqKey(projectID, b1<<rankShift1)
	k, _ := index.Seek(buildSeqKey(projectID, (b1+1)<<rankShift1))
	if k == nil {
		k, _ = index.Last()
	} else {
		k, _ = index.Prev()
	}
	for ; k != nil && bytes.Compare(k, low) >= 0; k, _ = index.Prev() {
		if offset == 0 {
			return k
		}
		offset--
	}
	return nil
}

// buildSeqKey is the start of the project_builds keys with sequence seq.
func buildSeqKey(projectID string, seq uint64) []byte {
	return key(projectID, fmt.Sprintf("%016x", seq))
}

// scanRanks counts a project_builds index into blocks, as rankAdd keeps
// them: what build_counts must hold.
func scanRanks(tx *bolt.Tx) (map[string]uint64, error) {
	want := map[string]uint64{}
	err := tx.Bucket(bucketProjectBuilds).ForEach(func(k, _ []byte) error {
		parts := bytes.SplitN(k, []byte("/"), 3)
		if len(parts) != 3 {
			return fmt.Errorf("build index key %q: malformed", k)
		}
		seq, err := strconv.ParseUint(string(parts[1]), 16, 64)
		if err != nil {
			return fmt.Errorf("build index key %q: %w", k, err)
		}
		want[string(rankKey(string(parts[0]), 1, seq>>rankShift1))]++
		want[string(rankKey(string(parts[0]), 2, seq>>rankShift2))]++
		return nil
	})
	return want, err
}

// ranksMatch reports whether build_counts holds exactly what the index
// says.
func ranksMatch(tx *bolt.Tx) (bool, error) {
	want, err := scanRanks(tx)
	if err != nil {
		return false, err
	}
	have := 0
	match := true
	tx.Bucket(bucketBuildCounts).ForEach(func(k, v []byte) error {
		have++
		if len(v) != 8 || want[string(k)] != binary.BigEndian.Uint64(v) {
			match = false
		}
		return nil
	})
	return match && have == len(want), nil
}

// rebuildRanks sets build_counts from the index.
func rebuildRanks(tx *bolt.Tx) error {
	want, err := scanRanks(tx)
	if err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketBuildCounts); err != nil {
		return err
	}
	b, err := tx.CreateBucket(bucketBuildCounts)
	if err != nil {
		return err
	}
	// In key order (see rebuildChecksumIndex).
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if err := b.Put([]byte(k), u64(want[k])); err != nil {
			return err
		}
	}
	return nil
}
