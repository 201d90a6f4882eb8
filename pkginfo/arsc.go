package pkginfo

import (
	"encoding/binary"
)

// resources.arsc is parsed by androidbinary, which allocates what the
// table's counts and string lengths declare before it reads them, and
// loops forever on a chunk of size 0. checkTable walks the table the way
// androidbinary will, with every offset, count and length checked against
// the bytes, and charges what androidbinary will allocate to the memory
// budget first; only a table that passes is handed over.

// Costs of what androidbinary allocates, in bytes (see readStringPool and
// readTableType in github.com/shogo82148/androidbinary v1.0.5).
const (
	costStringSlot = 4 + 4 + 16 + 16 // start offset, its read buffer, the string header, a length read
	costStyle      = 4 + 4 + 12 + 12
	costUTF8Byte   = 3                         // the buffer, its read buffer, the string
	costUTF16Unit  = 11                        // 2+2 for the buffer and its read buffer, 4 per rune, up to 3 in the string
	costEntry      = 4 + 4 + 16 + 16 + 16 + 16 // index, read buffer, slot, key, value, their read buffers
	costSpecEntry  = 4 + 4
)

func checkTable(b []byte, mem *memBudget) error {
	if len(b) < 12 {
		return invalidf("resources.arsc is cut short")
	}
	top, err := readChunk(b, 0)
	if err != nil || top.typ != resTableType {
		return invalidf("resources.arsc is not a resource table")
	}
	pools := 0
	for off := uint64(top.headerSize); off < uint64(top.size); {
		c, err := readChunk(b, off)
		if err != nil {
			return err
		}
		switch c.typ {
		case resStringPoolType:
			pools++
			if err := checkPool(b, off, mem); err != nil {
				return err
			}
		case resTablePackage:
			if err := checkPackage(b, off, c, mem); err != nil {
				return err
			}
		}
		off += uint64(c.size)
	}
	if pools != 1 {
		return invalidf("resources.arsc has %d global string pools, not one", pools)
	}
	return nil
}

// checkPool checks the string pool at off as androidbinary reads it: the
// offsets right after the 28-byte header, each string at start + offset
// (32-bit arithmetic), anywhere in b.
func checkPool(b []byte, off uint64, mem *memBudget) error {
	if off+28 > uint64(len(b)) {
		return invalidf("a string pool is cut short")
	}
	h := b[off:]
	count, styles := uint64(binary.LittleEndian.Uint32(h[8:])), uint64(binary.LittleEndian.Uint32(h[12:]))
	utf8 := binary.LittleEndian.Uint32(h[16:])&resUTF8Flag != 0
	stringsStart, stylesStart := binary.LittleEndian.Uint32(h[20:]), binary.LittleEndian.Uint32(h[24:])
	if off+28+4*(count+styles) > uint64(len(b)) {
		return invalidf("a string pool claims %d strings and %d styles in %d bytes", count, styles, len(b))
	}
	if err := mem.charge(int64(count*costStringSlot + styles*costStyle)); err != nil {
		return err
	}
	for i := range count {
		rel := stringsStart + binary.LittleEndian.Uint32(h[28+4*i:])
		n, _, err := stringAt(b, off+uint64(rel), utf8)
		if err != nil {
			return err
		}
		cost := n * costUTF16Unit
		if utf8 {
			cost = n * costUTF8Byte
		}
		if err := mem.charge(int64(cost)); err != nil {
			return err
		}
	}
	for i := range styles {
		rel := stylesStart + binary.LittleEndian.Uint32(h[28+4*(count+i):])
		if off+uint64(rel)+12 > uint64(len(b)) {
			return invalidf("a string style runs outside the table")
		}
	}
	return nil
}

// checkPackage checks a package chunk: its type and key string pools, at
// offsets its header gives, and its type and type-spec chunks.
func checkPackage(b []byte, off uint64, c chunk, mem *memBudget) error {
	const headerLen = 8 + 4 + 256 + 16
	if off+headerLen > uint64(len(b)) {
		return invalidf("a resource package is cut short")
	}
	h := b[off:]
	for _, rel := range []uint32{binary.LittleEndian.Uint32(h[268:]), binary.LittleEndian.Uint32(h[276:])} {
		if err := checkPool(b, off+uint64(rel), mem); err != nil {
			return err
		}
	}
	pkg := b[off : off+uint64(c.size)]
	for coff := uint64(c.headerSize); coff < uint64(len(pkg)); {
		tc, err := readChunk(pkg, coff)
		if err != nil {
			return err
		}
		var entries uint64
		switch tc.typ {
		case resTableTypeType:
			if tc.size >= 16 {
				entries = uint64(binary.LittleEndian.Uint32(pkg[coff+12:]))
			}
			if err := mem.charge(int64(entries*costEntry + 256)); err != nil {
				return err
			}
		case resTableTypeSpec:
			if tc.size >= 16 {
				entries = uint64(binary.LittleEndian.Uint32(pkg[coff+12:]))
			}
			if err := mem.charge(int64(entries*costSpecEntry + 64)); err != nil {
				return err
			}
		}
		if entries > uint64(tc.size)/4 {
			return invalidf("a resource type claims %d entries in %d bytes", entries, tc.size)
		}
		coff += uint64(tc.size)
	}
	return nil
}
