package pkginfo

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Property lists (Info.plist, a profile's content) are decoded here rather
// than by a general-purpose library: a binary plist is a graph, and one
// whose arrays point at each other many times expands exponentially when it
// is copied into Go values, while its nesting can make a recursive parser
// quadratic. This decoder visits at most plistMaxObjects values (a shared
// value counts every time it is reached), nests at most plistMaxDepth
// deep, and charges what it produces to the package's memory budget.

const (
	plistMaxDepth   = 32
	plistMaxObjects = 100_000
	// plistValueCost is what one decoded value costs in memory beyond its
	// bytes: an interface, a map or slice slot, a header.
	plistValueCost = 64
)

var errPlist = errors.New("malformed property list")

type plistDecoder struct {
	mem     *memBudget
	objects int
}

// visit counts one decoded value of n bytes against the limits.
func (d *plistDecoder) visit(depth int, n int) error {
	d.objects++
	switch {
	case depth > plistMaxDepth:
		return fmt.Errorf("%w: nested more than %d deep", errPlist, plistMaxDepth)
	case d.objects > plistMaxObjects:
		return fmt.Errorf("%w: more than %d values", errPlist, plistMaxObjects)
	}
	return d.mem.charge(int64(plistValueCost + n))
}

// decodePlist decodes an XML or binary property list whose top object is a
// dictionary. Values are map[string]any, []any, string, int64, uint64,
// float64, bool, time.Time and []byte.
func decodePlist(data []byte, mem *memBudget) (map[string]any, error) {
	d := &plistDecoder{mem: mem}
	var v any
	var err error
	if bytes.HasPrefix(data, []byte("bplist00")) {
		v, err = d.binary(data)
	} else {
		v, err = d.xml(data)
	}
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the top object is not a dictionary", errPlist)
	}
	return m, nil
}

// bplist is a binary property list: objects found through an offset table.
type bplist struct {
	d                   *plistDecoder
	data                []byte
	offsetSize, refSize int
	numObjects          uint64
	offsetTable         uint64
}

func (d *plistDecoder) binary(data []byte) (any, error) {
	if len(data) < 8+32 {
		return nil, fmt.Errorf("%w: too short", errPlist)
	}
	t := data[len(data)-32:]
	p := &bplist{
		d:           d,
		data:        data[:len(data)-32],
		offsetSize:  int(t[6]),
		refSize:     int(t[7]),
		numObjects:  binary.BigEndian.Uint64(t[8:]),
		offsetTable: binary.BigEndian.Uint64(t[24:]),
	}
	top := binary.BigEndian.Uint64(t[16:])
	if p.offsetSize < 1 || p.offsetSize > 8 || p.refSize < 1 || p.refSize > 8 ||
		p.offsetTable < 8 || p.offsetTable > uint64(len(p.data)) ||
		p.numObjects > (uint64(len(p.data))-p.offsetTable)/uint64(p.offsetSize) || top >= p.numObjects {
		return nil, fmt.Errorf("%w: bad trailer", errPlist)
	}
	return p.object(top, 0)
}

func beUint(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

// bytesAt returns n bytes at off in the object area, or an error.
func (p *bplist) bytesAt(off, n uint64) ([]byte, error) {
	if off > p.offsetTable || n > p.offsetTable-off {
		return nil, fmt.Errorf("%w: object out of range", errPlist)
	}
	return p.data[off : off+n], nil
}

func (p *bplist) object(ref uint64, depth int) (any, error) {
	if ref >= p.numObjects {
		return nil, fmt.Errorf("%w: reference out of range", errPlist)
	}
	o := p.offsetTable + ref*uint64(p.offsetSize)
	off := beUint(p.data[o : o+uint64(p.offsetSize)])
	head, err := p.bytesAt(off, 1)
	if err != nil {
		return nil, err
	}
	kind, low := head[0]>>4, uint64(head[0]&0xf)
	off++
	switch kind {
	case 0x0:
		switch head[0] {
		case 0x08, 0x09:
			return head[0] == 0x09, p.d.visit(depth, 0)
		}
		return nil, p.d.visit(depth, 0)
	case 0x1: // integer of 2^low bytes, big-endian
		n := uint64(1) << min(low, 4)
		b, err := p.bytesAt(off, n)
		if err != nil {
			return nil, err
		}
		if n == 16 {
			b = b[8:] // 128-bit integers: the low half (no plist Hangar reads has more)
		}
		x := beUint(b)
		if n == 8 || n == 16 {
			return int64(x), p.d.visit(depth, 0)
		}
		return x, p.d.visit(depth, 0)
	case 0x2, 0x3: // real, date
		n := uint64(1) << min(low, 3)
		b, err := p.bytesAt(off, n)
		if err != nil {
			return nil, err
		}
		f := math.Float64frombits(beUint(b))
		if n == 4 {
			f = float64(math.Float32frombits(uint32(beUint(b))))
		}
		if kind == 0x3 {
			return appleEpoch.Add(time.Duration(f * float64(time.Second))), p.d.visit(depth, 0)
		}
		return f, p.d.visit(depth, 0)
	}
	// The rest carry a count: in the low nibble, or in an integer after.
	count := low
	if low == 0xf {
		b, err := p.bytesAt(off, 1)
		if err != nil || b[0]>>4 != 0x1 {
			return nil, fmt.Errorf("%w: bad count", errPlist)
		}
		n := uint64(1) << min(b[0]&0xf, 3)
		if b, err = p.bytesAt(off+1, n); err != nil {
			return nil, err
		}
		count, off = beUint(b), off+1+n
	}
	if count > p.offsetTable {
		return nil, fmt.Errorf("%w: count out of range", errPlist)
	}
	switch kind {
	case 0x4: // data
		b, err := p.bytesAt(off, count)
		return b, errors.Join(err, p.d.visit(depth, 0)) // a sub-slice: no copy
	case 0x5: // ASCII string
		b, err := p.bytesAt(off, count)
		if err != nil {
			return nil, err
		}
		return string(b), p.d.visit(depth, len(b))
	case 0x6: // UTF-16BE string of count units
		b, err := p.bytesAt(off, 2*count)
		if err != nil {
			return nil, err
		}
		if err := p.d.visit(depth, 7*len(b)); err != nil { // units, runes, then the string
			return nil, err
		}
		u := make([]uint16, count)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case 0x8: // UID
		return nil, p.d.visit(depth, 0)
	case 0xa, 0xc: // array, set
		refs, err := p.bytesAt(off, count*uint64(p.refSize))
		if err != nil {
			return nil, err
		}
		if err := p.d.visit(depth, 16*int(count)); err != nil {
			return nil, err
		}
		arr := make([]any, count)
		for i := range arr {
			if arr[i], err = p.object(beUint(refs[i*p.refSize:(i+1)*p.refSize]), depth+1); err != nil {
				return nil, err
			}
		}
		return arr, nil
	case 0xd: // dictionary: count key refs, then count value refs
		refs, err := p.bytesAt(off, 2*count*uint64(p.refSize))
		if err != nil {
			return nil, err
		}
		if err := p.d.visit(depth, 48*int(count)); err != nil {
			return nil, err
		}
		m := make(map[string]any, count)
		for i := uint64(0); i < count; i++ {
			k, err := p.object(beUint(refs[i*uint64(p.refSize):(i+1)*uint64(p.refSize)]), depth+1)
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%w: a dictionary key is not a string", errPlist)
			}
			j := (count + i) * uint64(p.refSize)
			if m[key], err = p.object(beUint(refs[j:j+uint64(p.refSize)]), depth+1); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: unknown object type 0x%x", errPlist, head[0])
}

// appleEpoch is where plist dates count from.
var appleEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// xml decodes an XML property list token by token.
func (d *plistDecoder) xml(data []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errPlist, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("%w: no <plist> element", errPlist)
			}
			// The first element inside <plist>.
			for {
				tok, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %v", errPlist, err)
				}
				if se, ok := tok.(xml.StartElement); ok {
					return d.xmlValue(dec, se, 0)
				}
				if _, ok := tok.(xml.EndElement); ok {
					return nil, fmt.Errorf("%w: an empty <plist>", errPlist)
				}
			}
		}
	}
}

// xmlValue decodes the element se, whose start tag has just been read, up
// to and including its end tag.
func (d *plistDecoder) xmlValue(dec *xml.Decoder, se xml.StartElement, depth int) (any, error) {
	switch se.Name.Local {
	case "dict":
		m := map[string]any{}
		key, haveKey := "", false
		for {
			next, err := d.xmlChild(dec, depth)
			if err != nil || next == nil {
				return m, err
			}
			if next.Name.Local == "key" {
				if key, err = d.xmlText(dec, depth+1); err != nil {
					return nil, err
				}
				haveKey = true
				continue
			}
			if !haveKey {
				return nil, fmt.Errorf("%w: a dictionary value without a key", errPlist)
			}
			if m[key], err = d.xmlValue(dec, *next, depth+1); err != nil {
				return nil, err
			}
			haveKey = false
		}
	case "array":
		arr := []any{}
		for {
			next, err := d.xmlChild(dec, depth)
			if err != nil || next == nil {
				return arr, err
			}
			v, err := d.xmlValue(dec, *next, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
	case "true", "false":
		if err := dec.Skip(); err != nil {
			return nil, err
		}
		return se.Name.Local == "true", d.visit(depth, 0)
	}
	s, err := d.xmlText(dec, depth)
	if err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "string":
		return s, nil
	case "integer":
		s = strings.TrimSpace(s)
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 0, 64); err == nil {
			return u, nil
		}
		return nil, fmt.Errorf("%w: bad integer %.20q", errPlist, s)
	case "real":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bad real %.20q", errPlist, s)
		}
		return f, nil
	case "date":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%w: bad date %.30q", errPlist, s)
		}
		return t.UTC(), nil
	case "data":
		return []byte(nil), nil // Hangar reads no data values; their size is charged
	}
	return nil, fmt.Errorf("%w: unknown element <%.20s>", errPlist, se.Name.Local)
}

// xmlChild returns the next child element's start, or nil at the parent's
// end tag.
func (d *plistDecoder) xmlChild(dec *xml.Decoder, depth int) (*xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errPlist, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := d.visit(depth+1, 0); err != nil {
				return nil, err
			}
			return &t, nil
		case xml.EndElement:
			return nil, nil
		}
	}
}

// xmlText reads character data up to the current element's end tag.
func (d *plistDecoder) xmlText(dec *xml.Decoder, depth int) (string, error) {
	var sb strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("%w: %v", errPlist, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if err := d.mem.charge(int64(len(t))); err != nil {
				return "", err
			}
			sb.Write(t)
		case xml.StartElement:
			return "", fmt.Errorf("%w: <%.20s> inside a value", errPlist, t.Name.Local)
		case xml.EndElement:
			return sb.String(), d.visit(depth, 0)
		}
	}
}
