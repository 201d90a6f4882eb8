package store

import (
	"bytes"
	"encoding/json"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// linkMemo spares a counted download the decoding of its link. Each
// download reads and rewrites its link in the shared write transaction,
// where decoding the JSON was a quarter of a download's time and every
// other download of the group waits for it. The memo keeps each link as
// last written by a download, with the bytes written: a link whose stored
// bytes are still those (compared, not assumed) is the memo's. Any other
// change to a link changes its bytes, and a rolled-back write leaves the
// older bytes stored, so neither can be served from the memo.
type linkMemo struct {
	mu sync.Mutex
	m  map[string]memoLink
}

type memoLink struct {
	raw  []byte
	link PublicLink
}

// linkMemoMax bounds the memo: the links downloaded at the same time.
const linkMemoMax = 1024

// get reads link id from links.
func (m *linkMemo) get(links *bolt.Bucket, id string) (PublicLink, error) {
	raw := links.Get([]byte(id))
	if raw == nil {
		return PublicLink{}, ErrNotFound
	}
	m.mu.Lock()
	e, ok := m.m[id]
	m.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.link, nil
	}
	var l PublicLink
	err := json.Unmarshal(raw, &l)
	return l, err
}

// put writes l into links as link id, and keeps it.
func (m *linkMemo) put(links *bolt.Bucket, id string, l PublicLink) error {
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if err := links.Put([]byte(id), data); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= linkMemoMax {
		m.m = make(map[string]memoLink)
	}
	m.m[id] = memoLink{raw: data, link: l}
	return nil
}
