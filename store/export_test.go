package store

import bolt "go.etcd.io/bbolt"

// SetBuildSeq makes the next build's sequence number n+1, so that a test
// crosses the counted index's block boundaries without creating the
// builds in between.
func (s *Store) SetBuildSeq(n uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketBuilds).SetSequence(n) })
}

// DropBuildCounts empties the counted build index, as a schema 4 database
// (or damage) leaves it.
func (s *Store) DropBuildCounts() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketBuildCounts); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketBuildCounts)
		return err
	})
}

// BucketStats counts the keys of every bucket.
func (s *Store) BucketStats() (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			out[string(b)] = tx.Bucket(b).Stats().KeyN
		}
		return nil
	})
	return out, err
}

// SetInstallCap lowers the records a build keeps, for a test of the bound.
func SetInstallCap(n int) (restore func()) {
	old := installCap
	installCap = n
	return func() { installCap = old }
}
