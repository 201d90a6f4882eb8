package depot

import (
	"context"
	"io"

	"hangar/blob"
)

// Staging is where the parts of files uploaded in pieces wait: the blob
// backend's staging area (the bucket's when blobs are on S3).
func (d *Depot) Staging() blob.Staging {
	if d.remote != nil {
		return d.remote.Staging()
	}
	return d.blobs.Staging()
}

// StagedFile reads parts 1 to n of a staged upload as one stream, opening
// each part when the one before ends: memory stays flat whatever the
// file's size.
func StagedFile(ctx context.Context, st blob.Staging, upload string, n int) io.ReadCloser {
	return &stagedReader{ctx: ctx, st: st, upload: upload, n: n}
}

type stagedReader struct {
	ctx    context.Context
	st     blob.Staging
	upload string
	n, at  int // parts, the part being read (0: none yet)
	cur    io.ReadCloser
}

func (s *stagedReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err // stopped: within a part too, not only between parts
	}
	for {
		if s.cur == nil {
			if s.at == s.n {
				return 0, io.EOF
			}
			s.at++
			r, err := s.st.OpenPart(s.ctx, s.upload, s.at)
			if err != nil {
				return 0, err
			}
			s.cur = r
		}
		n, err := s.cur.Read(p)
		if err == io.EOF {
			s.cur.Close()
			s.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (s *stagedReader) Close() error {
	if s.cur != nil {
		return s.cur.Close()
	}
	return nil
}

// ErrPartSize says a staged part's body was not its declared size.
var ErrPartSize = blob.ErrPartSize
