package store

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// Totals that monitoring reads on every scrape are kept as counters in the
// meta bucket, updated in the transactions that change what they count,
// rather than found by scanning every link and blob reference.
var (
	countLinksActive   = []byte("count/links_active")   // links not deactivated
	countLinkDownloads = []byte("count/link_downloads") // downloads through any link, ever
	countBlobs         = []byte("count/blobs")          // distinct referenced blobs
)

// addCount adds delta to counter name.
func addCount(tx *bolt.Tx, name []byte, delta int64) error {
	if delta == 0 {
		return nil
	}
	meta := tx.Bucket(bucketMeta)
	return meta.Put(name, u64(uint64(readCount(meta, name)+delta)))
}

func readCount(meta *bolt.Bucket, name []byte) int64 {
	if v := meta.Get(name); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// Counts are the maintained totals.
type Counts struct {
	LinksActive, LinkDownloads, Blobs int64
}

// scanCounts computes the totals from the data itself: what the counters
// must equal (a migration sets them from it; fsck compares).
func scanCounts(tx *bolt.Tx) (Counts, error) {
	var c Counts
	links := tx.Bucket(bucketLinks)
	err := links.ForEach(func(k, _ []byte) error {
		var l PublicLink
		if err := get(links, k, &l); err != nil {
			return err
		}
		if l.IsActive {
			c.LinksActive++
		}
		c.LinkDownloads += l.AccessCount
		return nil
	})
	c.Blobs = int64(tx.Bucket(bucketBlobRefs).Stats().KeyN)
	return c, err
}

// setCounts writes c as the counters.
func setCounts(tx *bolt.Tx, c Counts) error {
	meta := tx.Bucket(bucketMeta)
	for name, v := range map[string]int64{string(countLinksActive): c.LinksActive, string(countLinkDownloads): c.LinkDownloads, string(countBlobs): c.Blobs} {
		if err := meta.Put([]byte(name), u64(uint64(v))); err != nil {
			return err
		}
	}
	return nil
}

// Schema 4: the counters, from a scan of what they count.
func migrateCounters(tx *bolt.Tx) error {
	c, err := scanCounts(tx)
	if err != nil {
		return err
	}
	return setCounts(tx, c)
}
