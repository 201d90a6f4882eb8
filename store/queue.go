package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// processingKey orders the queue by upload, so that a restart picks work
// up in the order it came.
func processingKey(b Build) []byte {
	return []byte(fmt.Sprintf("%016x/%s", b.Seq, b.ID))
}

// ProcessingQueue returns the IDs of the builds in status in_progress,
// oldest first: the work a restart must pick up again.
func (s *Store) ProcessingQueue() ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProcessing).ForEach(func(k, _ []byte) error {
			_, id, _ := bytes.Cut(k, []byte("/"))
			ids = append(ids, string(id))
			return nil
		})
	})
	return ids, err
}

// BeginProcessing records that a worker starts reading build id's package
// and returns how many earlier attempts started without finishing: a
// crash (or a package that kills the process) leaves the count behind,
// FinishProcessing clears it with the queue entry. It is committed before
// the read starts. It returns ErrNotFound for a build that is not queued.
func (s *Store) BeginProcessing(id string) (earlier int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		var b Build
		if err := get(tx.Bucket(bucketBuilds), []byte(id), &b); err != nil {
			return err
		}
		queue, key := tx.Bucket(bucketProcessing), processingKey(b)
		k, v := queue.Cursor().Seek(key)
		if !bytes.Equal(k, key) {
			return fmt.Errorf("build %s is not queued: %w", id, ErrNotFound)
		}
		if len(v) > 0 {
			earlier = int(v[0])
		}
		return queue.Put(key, []byte{byte(min(earlier+1, 255))})
	})
	return earlier, err
}

// ErrNotInProgress is returned by FinishProcessing for a build that is no
// longer in_progress (another worker finished it).
var ErrNotInProgress = errors.New("build is not in progress")

// FinishProcessing records the outcome of processing a build in one
// transaction: fn sets the metadata and the final status, and icon, when
// not nil, is added as the build's file (its blob already stored). Icons
// count towards storageUsed but not against the quota: the build was
// accepted, and a few KiB the server made must not fail it. It returns
// ErrNotFound if the build was deleted meanwhile, ErrNotInProgress if it
// is not in_progress.
func (s *Store) FinishProcessing(id string, fn func(*Build), icon *File) (Build, File, error) {
	var (
		b Build
		f File
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		b, err = updateBuild(tx, id, s.now(), func(b *Build) error {
			if b.Status != BuildInProgress {
				return fmt.Errorf("build %s is %s: %w", b.ID, b.Status, ErrNotInProgress)
			}
			fn(b)
			return nil
		})
		if err != nil || icon == nil {
			return err
		}
		f = *icon
		f.BuildID = id
		return s.addFile(tx, &f, false)
	})
	if err != nil {
		return Build{}, File{}, err
	}
	return b, f, nil
}
