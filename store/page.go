package store

import (
	"bytes"
	"encoding/base64"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Page asks for one page of a list that can grow (a project's builds, a
// link's access log), newest first. A page either continues after a
// cursor, which costs O(Limit) by seeking the list's index, or starts at an
// offset, which each list finds without walking what it skips.
type Page struct {
	Limit  int    // at most this many (0: no limit)
	Offset int    // how many to pass over from the newest; ignored with After
	After  string // a previous page's Next: continue after its last item
}

// maxCursor bounds a cursor a client sends back; real ones are far shorter.
const maxCursor = 128

// cursorSuffix decodes a cursor into the index key suffix it names.
func cursorSuffix(cursor string) ([]byte, error) {
	if len(cursor) > maxCursor {
		return nil, fmt.Errorf("%w: cursor too long", ErrInvalid)
	}
	suffix, err := base64.RawURLEncoding.Strict().DecodeString(cursor) // one spelling per cursor
	if err != nil || len(suffix) == 0 {
		return nil, fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	return suffix, nil
}

// pageFrom positions c for a page of the index keys under prefix, newest
// (highest key) first: after the page's cursor, or at the key offset
// returns for the page's offset (nil: no such item), or at the newest. It
// returns the first key and value of the page, or a nil key when the page
// is empty.
func pageFrom(c *bolt.Cursor, prefix []byte, p Page, offset func() []byte) ([]byte, []byte, error) {
	var k, v []byte
	switch {
	case p.After != "":
		suffix, err := cursorSuffix(p.After)
		if err != nil {
			return nil, nil, err
		}
		if k, _ = c.Seek(append(bytes.Clone(prefix), suffix...)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	case p.Offset > 0:
		at := offset()
		if at == nil {
			return nil, nil, nil
		}
		k, v = c.Seek(at)
	default:
		// Past the last key with this prefix: prefix ends in '/', and '0'
		// sorts right after it.
		end := append(bytes.Clone(prefix[:len(prefix)-1]), '0')
		if k, _ = c.Seek(end); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, nil, nil
	}
	return k, v, nil
}

// walkPage calls take for up to p.Limit keys under prefix, newest first,
// starting from where pageFrom put c, and returns the cursor of the page's
// last item when more follow it ("" at the end of the list).
func walkPage(c *bolt.Cursor, prefix []byte, p Page, offset func() []byte, take func(suffix, v []byte) error) (string, error) {
	k, v, err := pageFrom(c, prefix, p, offset)
	if err != nil {
		return "", err
	}
	var last []byte
	for n := 0; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if p.Limit > 0 && n == p.Limit {
			return base64.RawURLEncoding.EncodeToString(last), nil
		}
		last = k[len(prefix):]
		if err := take(last, v); err != nil {
			return "", err
		}
		n++
	}
	return "", nil
}
