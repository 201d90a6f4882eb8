package store

import (
	bolt "go.etcd.io/bbolt"
)

// migrations[v] turns a schema v database into schema v+1, inside the
// transaction that Open runs them all in. Append, never edit: a migration
// once released is what every older database goes through.
var migrations = map[uint64]func(tx *bolt.Tx) error{
	1: migrateLinkFileNames,
	2: migrateProcessingQueue,
	3: migrateCounters,
	4: rebuildRanks,         // schema 5: the counted build index
	5: rebuildChecksumIndex, // schema 6: files by checksum, for fsck
	6: indexTesterGroups,    // schema 7: addresses to tester groups
}

// Schema 3: builds in_progress are indexed in the processing bucket (which
// init has created), so that a restart finds them without reading every
// build. Schema 2 processed builds at upload, but index any it left.
func migrateProcessingQueue(tx *bolt.Tx) error {
	builds, queue := tx.Bucket(bucketBuilds), tx.Bucket(bucketProcessing)
	return builds.ForEach(func(k, _ []byte) error {
		var b Build
		if err := get(builds, k, &b); err != nil {
			return err
		}
		if b.Status != BuildInProgress {
			return nil
		}
		return queue.Put(processingKey(b), nil)
	})
}

// Schema 2: public links carry their file's name, so a download needs no
// file read. Links of files deleted before the upgrade keep an empty name;
// they are inactive anyway.
func migrateLinkFileNames(tx *bolt.Tx) error {
	links, files := tx.Bucket(bucketLinks), tx.Bucket(bucketFiles)
	var updated []PublicLink
	err := links.ForEach(func(k, _ []byte) error {
		var l PublicLink
		if err := get(links, k, &l); err != nil {
			return err
		}
		var f File
		if l.FileName == "" && get(files, []byte(l.FileID), &f) == nil {
			l.FileName = f.Name
			updated = append(updated, l)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range updated {
		if err := put(links, []byte(l.ID), l); err != nil {
			return err
		}
	}
	return nil
}
