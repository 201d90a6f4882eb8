package pkginfo

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// errBudget is returned by budgetReader once its budget is spent.
var errBudget = errors.New("read budget exceeded")

// budgetReader is an io.ReaderAt that fails once n bytes have been read
// through it. archive/zip reads the whole central directory in NewReader;
// this is the only way to bound that from outside.
type budgetReader struct {
	r io.ReaderAt
	n int64
}

func (b *budgetReader) ReadAt(p []byte, off int64) (int, error) {
	if int64(len(p)) > b.n {
		return 0, errBudget
	}
	n, err := b.r.ReadAt(p, off)
	b.n -= int64(n)
	return n, err
}

// zipEntryCost is what archive/zip and the index by name hold per entry,
// beyond the directory's bytes (a zip.File and a map slot).
const zipEntryCost = 320

// archive is a zip opened within Limits, indexed by entry name.
type archive struct {
	files   []*zip.File
	byName  map[string]*zip.File
	lim     Limits
	inflate int64 // bytes left to inflate
	mem     *memBudget
}

// memBudget bounds the memory one package read may take. Every buffer and
// every decoded structure whose size the package controls is charged to it
// before it is allocated; nothing is given back, so it bounds the total
// allocated, which bounds the peak.
type memBudget struct {
	left, limit int64
}

func newMemBudget(limit int64) *memBudget { return &memBudget{left: limit, limit: limit} }

// charge takes n bytes from the budget; the error wraps ErrInvalid.
func (m *memBudget) charge(n int64) error {
	if n < 0 || n > m.left {
		m.left = -1
		return invalidf("reading the package would take more than %d MiB of memory", m.limit>>20)
	}
	m.left -= n
	return nil
}

func openZip(r io.ReaderAt, size int64, lim Limits) (*archive, error) {
	br := &budgetReader{r: r, n: lim.DirectoryBytes + 64<<10} // + the end records
	zr, err := zip.NewReader(br, size)
	switch {
	case errors.Is(err, errBudget):
		return nil, invalidf("the zip directory is larger than %d MiB", lim.DirectoryBytes>>20)
	case err != nil:
		return nil, invalidf("not a readable zip archive (%v)", err)
	case len(zr.File) > lim.Entries:
		return nil, invalidf("the archive has %d entries, more than %d", len(zr.File), lim.Entries)
	}
	// Entries are read through the same budgetReader. Its budget bounds
	// the compressed bytes read, which the inflate budget does not: a
	// deflate stream of empty blocks is long and yields nothing.
	a := &archive{files: zr.File, byName: make(map[string]*zip.File, len(zr.File)), lim: lim, inflate: lim.Inflate, mem: newMemBudget(lim.Memory)}
	// The directory is in memory already (bounded by DirectoryBytes and
	// Entries); it counts against the budget all the same.
	if err := a.mem.charge(int64(lim.DirectoryBytes+64<<10-br.n) + int64(len(zr.File))*zipEntryCost); err != nil {
		return nil, err
	}
	br.n = 2*lim.Inflate + 1<<20
	for _, f := range zr.File {
		if _, dup := a.byName[f.Name]; !dup { // the first of duplicate names wins, as in most readers
			a.byName[f.Name] = f
		}
	}
	return a, nil
}

// read inflates the named entry, refusing more than max bytes whatever the
// archive declares, and at most what is left of the archive's budget.
func (a *archive) read(f *zip.File, max int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(max) {
		return nil, invalidf("%s is %d bytes, more than the %d allowed", f.Name, f.UncompressedSize64, max)
	}
	limit := min(max, a.inflate)
	if err := a.mem.charge(int64(min(f.UncompressedSize64, uint64(limit))) + bytes.MinRead); err != nil {
		return nil, err
	}
	rc, err := f.Open()
	if err != nil {
		return nil, invalidf("%s: %v", f.Name, err)
	}
	defer rc.Close()
	// The declared size (already checked against max) sizes the buffer:
	// growing by doubling would hold up to 2.5× the entry at once. A lie
	// costs no more than the limit: the read stops there whatever it says.
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, uint64(limit))) + bytes.MinRead)
	n, err := io.Copy(&buf, io.LimitReader(rc, limit+1))
	a.inflate -= n
	switch {
	case errors.Is(err, errBudget):
		return nil, invalidf("reading %s exceeded the archive's read budget", f.Name)
	case err != nil:
		return nil, invalidf("%s: %v", f.Name, err)
	case n > limit:
		// A zip bomb, or an entry that lies about its size.
		return nil, invalidf("%s inflates to more than %d bytes", f.Name, limit)
	}
	return buf.Bytes(), nil
}

// readName is read for an entry by name; ok is false when there is none.
func (a *archive) readName(name string, max int64) (data []byte, ok bool, err error) {
	f := a.byName[name]
	if f == nil {
		return nil, false, nil
	}
	data, err = a.read(f, max)
	return data, true, err
}
