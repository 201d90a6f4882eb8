package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PublicLink lets anyone with its URL download one file, within its limits.
type PublicLink struct {
	ID             string    `json:"id"`
	FileID         string    `json:"fileId"`
	BuildID        string    `json:"buildId"`       // kept so the link's project is known after its file is deleted
	FileName       string    `json:"fileName"`      // the file's name (names never change): a download reads no file row
	DownloadLimit  int64     `json:"downloadLimit"` // 0 = none
	ExpirationDate time.Time `json:"expirationDate"`
	IsPermanent    bool      `json:"isPermanent"` // true: ExpirationDate is ignored
	AccessCount    int64     `json:"accessCount"`
	IsActive       bool      `json:"isActive"`
	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy,omitempty"`
	// PasswordHash is the argon2id hash of the link's password, if it has
	// one.
	PasswordHash string `json:"passwordHash,omitempty"`
}

// CreateLink stores a new, active public link to an existing file. It returns
// ErrNotFound if the file does not exist and ErrInvalid for a negative limit.
func (s *Store) CreateLink(l PublicLink) (PublicLink, error) {
	if l.DownloadLimit < 0 {
		return PublicLink{}, fmt.Errorf("%w: download limit %d", ErrInvalid, l.DownloadLimit)
	}
	l.ID = NewID()
	l.CreatedAt = s.now().UTC()
	l.AccessCount = 0
	l.IsActive = true
	err := s.db.Update(func(tx *bolt.Tx) error {
		var f File
		if err := get(tx.Bucket(bucketFiles), []byte(l.FileID), &f); err != nil {
			return fmt.Errorf("file %s: %w", l.FileID, err)
		}
		l.BuildID, l.FileName = f.BuildID, f.Name
		if err := tx.Bucket(bucketFileLinks).Put(key(l.FileID, l.ID), nil); err != nil {
			return err
		}
		if err := addCount(tx, countLinksActive, 1); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketLinks), []byte(l.ID), l); err != nil {
			return err
		}
		ws, err := workspaceOfBuild(tx, f.BuildID)
		if err != nil {
			return err
		}
		if err := s.record(tx, AuditLinkCreated, AuditTarget{Kind: "link", ID: l.ID, Name: l.FileName}, ws.ID, map[string]any{
			"build": l.BuildID, "downloadLimit": l.DownloadLimit, "expirationDate": l.ExpirationDate, "permanent": l.IsPermanent, "password": l.PasswordHash != ""}); err != nil {
			return err
		}
		return emitLinkEvent(tx, s.now(), EventLinkCreated, l)
	})
	if err != nil {
		return PublicLink{}, err
	}
	return l, nil
}

// Link returns the public link with the given ID, or ErrNotFound.
func (s *Store) Link(id string) (PublicLink, error) {
	var l PublicLink
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx.Bucket(bucketLinks), []byte(id), &l)
	})
	return l, err
}

// LinksOfFile returns the public links of a file, in ID order.
func (s *Store) LinksOfFile(fileID string) ([]PublicLink, error) {
	var out []PublicLink
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[PublicLink](tx, bucketLinks, prefixed(tx.Bucket(bucketFileLinks), fileID, true))
		return err
	})
	return out, err
}

// LinksOfFiles lists the links of files, each file's in key order and the
// files in the order given, at most limit, starting after a previous
// call's next. next is "" on the last page. A page costs O(limit): it
// seeks to the cursor, never skips.
func (s *Store) LinksOfFiles(fileIDs []string, after string, limit int) (out []PublicLink, next string, err error) {
	start := 0
	if after != "" {
		fid, _, _ := strings.Cut(after, "/")
		if start = slices.Index(fileIDs, fid); start < 0 {
			return nil, "", fmt.Errorf("%w: cursor", ErrInvalid)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		links, c := tx.Bucket(bucketLinks), tx.Bucket(bucketFileLinks).Cursor()
		for i, fid := range fileIDs[start:] {
			prefix := key(fid, "")
			k, _ := c.Seek(prefix)
			if i == 0 && after != "" {
				if k, _ = c.Seek([]byte(after)); k != nil && string(k) == after {
					k, _ = c.Next()
				}
			}
			for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if len(out) == limit {
					next = string(key(out[len(out)-1].FileID, out[len(out)-1].ID))
					return nil
				}
				var l PublicLink
				if err := get(links, k[len(prefix):], &l); err != nil {
					return err
				}
				out = append(out, l)
			}
		}
		return nil
	})
	return out, next, err
}

// DeactivateLink marks a link inactive; it stays readable with its access
// log. It returns ErrNotFound if the link does not exist.
func (s *Store) DeactivateLink(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		links := tx.Bucket(bucketLinks)
		var l PublicLink
		if err := get(links, []byte(id), &l); err != nil {
			return err
		}
		if l.IsActive {
			if err := addCount(tx, countLinksActive, -1); err != nil {
				return err
			}
		}
		l.IsActive = false
		if err := put(links, []byte(id), l); err != nil {
			return err
		}
		ws, err := workspaceOfBuild(tx, l.BuildID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return s.record(tx, AuditLinkDeactivated, AuditTarget{Kind: "link", ID: l.ID, Name: l.FileName}, ws.ID, nil)
	})
}

func deactivateLinksOfFile(tx *bolt.Tx, fileID string) error {
	links := tx.Bucket(bucketLinks)
	var ids [][]byte
	forEachPrefix(tx.Bucket(bucketFileLinks), fileID, func(linkID, _ []byte) bool {
		ids = append(ids, bytes.Clone(linkID))
		return true
	})
	for _, id := range ids {
		var l PublicLink
		if err := get(links, id, &l); err != nil {
			return err
		}
		if l.IsActive {
			if err := addCount(tx, countLinksActive, -1); err != nil {
				return err
			}
		}
		l.IsActive = false
		if err := put(links, id, l); err != nil {
			return err
		}
	}
	return nil
}

// ErrLimitReached is returned by UseLink for a link whose download limit is
// used up.
var ErrLimitReached = errors.New("download limit reached")

// UseLink resolves a public link for a download of fileName (an empty
// fileName matches any). A link that does not exist, is inactive (its file
// deleted, or the link itself) or expired, or whose file is not named
// fileName gives ErrNotFound; one at its download limit ErrLimitReached,
// with the link.
//
// With record set, it also counts the access and appends e to the link's
// access log in the same transaction as the checks, so that the limit is
// exact under any concurrency. Concurrent calls share that commit (and its
// fsync) through the group committer (group.go). The file row is not read: deleting a file
// deactivates its links in the same transaction, and links carry the name.
//
// A download (record) through a link with a password gives ErrProtected
// and the link, counting nothing: the caller checks the request's right to
// it (slow: a password hash) outside the transaction, then calls
// UseUnlockedLink with the hash it checked against.
func (s *Store) UseLink(id, fileName string, e AccessLogEntry, record bool) (PublicLink, error) {
	return s.useLink(id, fileName, e, record, "")
}

// UseUnlockedLink is UseLink's download for a request whose right to a
// protected link was checked against its password hash passHash; a
// password changed since gives ErrProtected again.
func (s *Store) UseUnlockedLink(id, fileName string, e AccessLogEntry, passHash string) (PublicLink, error) {
	return s.useLink(id, fileName, e, true, passHash)
}

// ErrProtected is UseLink's answer for a download through a link with a
// password the caller has not checked.
var ErrProtected = errors.New("the link has a password")

func (s *Store) useLink(id, fileName string, e AccessLogEntry, record bool, passHash string) (PublicLink, error) {
	var (
		l       PublicLink
		outcome error
	)
	check := func(links *bolt.Bucket) error {
		var err error
		l, err = s.usableLink(links, id, e.Time)
		switch {
		case err == nil && fileName != "" && l.FileName != fileName:
			err = ErrNotFound
		case err == nil && record && l.PasswordHash != passHash:
			err = ErrProtected
		}
		return err
	}
	if !record {
		err := s.db.View(func(tx *bolt.Tx) error { return check(tx.Bucket(bucketLinks)) })
		return l, err
	}
	// The group may run fn more than once; it only reads and writes the
	// transaction, and resets what it reports.
	err := s.group.do(func(tx *bolt.Tx) error {
		links := tx.Bucket(bucketLinks)
		if outcome = check(links); outcome != nil {
			return nil
		}
		l.AccessCount++
		if err := s.links.put(links, id, l); err != nil {
			return err
		}
		if err := addCount(tx, countLinkDownloads, 1); err != nil {
			return err
		}
		if l.DownloadLimit > 0 && l.AccessCount == l.DownloadLimit {
			if err := emitLinkEvent(tx, e.Time, EventLinkLimitReached, l); err != nil {
				return err
			}
		}
		if e.Install != nil {
			in := *e.Install // the group may run this twice: e stays as given
			in.LinkID = id
			if in.BuildID == "" {
				in.BuildID, in.FileID = l.BuildID, l.FileID
			}
			e.Install = &in
		}
		return s.appendAccess(tx, id, l.AccessCount, e)
	})
	if err == nil {
		err = outcome
	}
	return l, err
}

// usableLink reads a link and checks that it can be used at time now:
// ErrNotFound if it is missing, inactive or expired, ErrLimitReached (with
// the link) at its download limit.
func (s *Store) usableLink(links *bolt.Bucket, id string, now time.Time) (PublicLink, error) {
	l, err := s.links.get(links, id)
	if err != nil {
		return l, err
	}
	switch {
	case !l.IsActive, !l.IsPermanent && !l.ExpirationDate.IsZero() && !now.Before(l.ExpirationDate):
		return l, ErrNotFound
	case l.DownloadLimit > 0 && l.AccessCount >= l.DownloadLimit:
		return l, ErrLimitReached
	}
	return l, nil
}
