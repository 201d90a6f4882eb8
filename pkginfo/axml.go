package pkginfo

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// Android's binary XML (AndroidManifest.xml and compiled drawables in an
// APK) is read here, not by a general-purpose library: Hangar needs a few
// attributes of a few elements, and a reader that expands the document
// into text can be made to produce gigabytes from kilobytes (an element
// whose attributes all point at one long string). This reader decodes a
// string only when an attribute Hangar keeps names it, once, and charges
// it to the package's memory budget.

// Chunk types of Android's resource formats (ResourceTypes.h).
const (
	resNullType       = 0x0000
	resStringPoolType = 0x0001
	resTableType      = 0x0002
	resXMLType        = 0x0003
	resXMLStartNS     = 0x0100
	resXMLEndNS       = 0x0101
	resXMLStartElem   = 0x0102
	resXMLEndElem     = 0x0103
	resXMLResourceMap = 0x0180
	resTablePackage   = 0x0200
	resTableTypeType  = 0x0201
	resTableTypeSpec  = 0x0202
	resUTF8Flag       = 1 << 8
	// Typed value kinds (Res_value::dataType).
	resValueReference = 0x01
	resValueString    = 0x03
	resValueIntDec    = 0x10
	resValueIntHex    = 0x11
	resValueBool      = 0x12
	noString          = 0xffffffff
)

// axmlMaxElements bounds the elements kept from one document; a manifest
// has a few hundred.
const axmlMaxElements = 20_000

// axElement is an element of a binary XML document.
type axElement struct {
	name     string
	attrs    []axAttr
	children []*axElement
}

// axAttr is an attribute: its namespace URI and name, and its value, a
// string or a typed value (a reference to a resource, an integer).
type axAttr struct {
	ns, name string
	str      string
	hasStr   bool
	typ      uint8
	data     uint32
}

func (e *axElement) attr(ns, name string) (axAttr, bool) {
	for _, a := range e.attrs {
		if a.ns == ns && a.name == name {
			return a, true
		}
	}
	return axAttr{}, false
}

// android: attributes by resource id, for manifests whose attribute names
// were stripped by an obfuscator (the resource map still says which is which).
var androidAttrIDs = map[uint32]string{
	0x01010001: "label",
	0x01010002: "icon",
	0x0101021b: "versionCode",
	0x0101021c: "versionName",
	0x0101020c: "minSdkVersion",
	0x01010270: "targetSdkVersion",
	0x01010199: "drawable",
}

// chunk is one chunk's header, read with its bounds checked.
type chunk struct {
	typ        uint16
	headerSize uint32
	size       uint32
}

func readChunk(b []byte, off uint64) (chunk, error) {
	if off+8 > uint64(len(b)) {
		return chunk{}, invalidf("a resource chunk at %d is cut short", off)
	}
	c := chunk{typ: binary.LittleEndian.Uint16(b[off:]), headerSize: uint32(binary.LittleEndian.Uint16(b[off+2:])), size: binary.LittleEndian.Uint32(b[off+4:])}
	if c.headerSize < 8 || c.size < c.headerSize || off+uint64(c.size) > uint64(len(b)) {
		return chunk{}, invalidf("a resource chunk at %d has a bad size", off)
	}
	return c, nil
}

// stringPool reads strings of a ResStringPool lazily, each at most once.
type stringPool struct {
	b     []byte // the chunk
	count uint32
	utf8  bool
	start uint32
	cache map[uint32]string
	mem   *memBudget
}

func newStringPool(b []byte, mem *memBudget) (*stringPool, error) {
	if len(b) < 28 {
		return nil, invalidf("a string pool is cut short")
	}
	p := &stringPool{b: b, count: binary.LittleEndian.Uint32(b[8:]), utf8: binary.LittleEndian.Uint32(b[16:])&resUTF8Flag != 0,
		start: binary.LittleEndian.Uint32(b[20:]), cache: map[uint32]string{}, mem: mem}
	if uint64(p.count) > uint64(len(b)-28)/4 {
		return nil, invalidf("a string pool claims %d strings in %d bytes", p.count, len(b))
	}
	return p, nil
}

// get returns string i, decoding it the first time.
func (p *stringPool) get(i uint32) (string, error) {
	if i == noString {
		return "", nil
	}
	if s, ok := p.cache[i]; ok {
		return s, nil
	}
	if i >= p.count {
		return "", invalidf("a string reference is out of range")
	}
	off := uint64(p.start) + uint64(binary.LittleEndian.Uint32(p.b[28+4*i:]))
	n, units, err := stringAt(p.b, off, p.utf8)
	if err != nil {
		return "", err
	}
	if err := p.mem.charge(int64(n)*4 + 64); err != nil {
		return "", err
	}
	var s string
	if p.utf8 {
		s = string(units)
	} else {
		u := make([]uint16, n)
		for k := range u {
			u[k] = binary.LittleEndian.Uint16(units[2*k:])
		}
		s = string(utf16.Decode(u))
	}
	p.cache[i] = s
	return s, nil
}

// stringAt finds the string at off in a pool: its length (bytes for UTF-8,
// units for UTF-16) and its bytes, which must lie inside b.
func stringAt(b []byte, off uint64, utf8 bool) (n uint64, units []byte, err error) {
	bad := invalidf("a string runs outside its pool")
	if utf8 {
		for range 2 { // the UTF-16 length, then the UTF-8 length
			if off+2 > uint64(len(b)) {
				return 0, nil, bad
			}
			n = uint64(b[off])
			off++
			if n&0x80 != 0 {
				n = (n&0x7f)<<8 | uint64(b[off])
				off++
			}
		}
		if off+n > uint64(len(b)) {
			return 0, nil, bad
		}
		return n, b[off : off+n], nil
	}
	if off+4 > uint64(len(b)) {
		return 0, nil, bad
	}
	n = uint64(binary.LittleEndian.Uint16(b[off:]))
	off += 2
	if n&0x8000 != 0 {
		n = (n&0x7fff)<<16 | uint64(binary.LittleEndian.Uint16(b[off:]))
		off += 2
	}
	if off+2*n > uint64(len(b)) {
		return 0, nil, bad
	}
	return n, b[off : off+2*n], nil
}

// decodeAXML reads a binary XML document into its element tree, keeping
// the attributes of every element; it returns the root element.
func decodeAXML(b []byte, mem *memBudget) (*axElement, error) {
	top, err := readChunk(b, 0)
	if err != nil || top.typ != resXMLType {
		return nil, invalidf("not binary Android XML")
	}
	b = b[:top.size]
	var (
		pool     *stringPool
		resIDs   []byte // the resource map: attribute name index → resource id
		root     *axElement
		stack    []*axElement
		elements int
	)
	for off := uint64(top.headerSize); off < uint64(len(b)); {
		c, err := readChunk(b, off)
		if err != nil {
			return nil, err
		}
		body := b[off : off+uint64(c.size)]
		off += uint64(c.size)
		switch c.typ {
		case resStringPoolType:
			if pool != nil {
				return nil, invalidf("more than one string pool")
			}
			if pool, err = newStringPool(body, mem); err != nil {
				return nil, err
			}
		case resXMLResourceMap:
			resIDs = body[c.headerSize:]
		case resXMLStartElem:
			if pool == nil {
				return nil, invalidf("an element before the string pool")
			}
			if elements++; elements > axmlMaxElements {
				return nil, invalidf("more than %d elements", axmlMaxElements)
			}
			el, err := readElement(body, c, pool, resIDs, mem)
			if err != nil {
				return nil, err
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, invalidf("more than one root element")
				}
				root = el
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, el)
			}
			stack = append(stack, el)
		case resXMLEndElem:
			if len(stack) == 0 {
				return nil, invalidf("an end tag without a start")
			}
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, invalidf("no root element")
	}
	return root, nil
}

// readElement reads a start-element chunk: the element's name and the
// attributes, which must lie inside the chunk.
func readElement(body []byte, c chunk, pool *stringPool, resIDs []byte, mem *memBudget) (*axElement, error) {
	ext := uint64(c.headerSize)
	if ext+20 > uint64(len(body)) {
		return nil, invalidf("an element is cut short")
	}
	name, err := pool.get(binary.LittleEndian.Uint32(body[ext+4:]))
	if err != nil {
		return nil, err
	}
	start := ext + uint64(binary.LittleEndian.Uint16(body[ext+8:]))
	size := uint64(binary.LittleEndian.Uint16(body[ext+10:]))
	count := uint64(binary.LittleEndian.Uint16(body[ext+12:]))
	if count > 0 && (size < 20 || start+count*size > uint64(len(body))) {
		return nil, invalidf("an element's attributes run outside it")
	}
	if err := mem.charge(int64(96 + count*80)); err != nil {
		return nil, err
	}
	el := &axElement{name: name, attrs: make([]axAttr, 0, count)}
	for i := range count {
		at := body[start+i*size:]
		var a axAttr
		if a.ns, err = pool.get(binary.LittleEndian.Uint32(at)); err != nil {
			return nil, err
		}
		nameIdx := binary.LittleEndian.Uint32(at[4:])
		if a.name, err = pool.get(nameIdx); err != nil {
			return nil, err
		}
		if a.name == "" && uint64(nameIdx) < uint64(len(resIDs)/4) {
			a.name = androidAttrIDs[binary.LittleEndian.Uint32(resIDs[4*nameIdx:])]
		}
		if raw := binary.LittleEndian.Uint32(at[8:]); raw != noString {
			if a.str, err = pool.get(raw); err != nil {
				return nil, err
			}
			a.hasStr = true
		}
		a.typ, a.data = at[15], binary.LittleEndian.Uint32(at[16:])
		if a.typ == resValueString && !a.hasStr {
			if a.str, err = pool.get(a.data); err != nil {
				return nil, err
			}
			a.hasStr = true
		}
		el.attrs = append(el.attrs, a)
	}
	return el, nil
}

// String is the attribute's value as a manifest would say it, without
// resolving references: "" for a reference.
func (a axAttr) String() string {
	switch {
	case a.hasStr:
		return a.str
	case a.typ == resValueIntDec, a.typ == resValueIntHex:
		return fmt.Sprint(int32(a.data))
	case a.typ == resValueBool:
		return fmt.Sprint(a.data != 0)
	}
	return ""
}

// ref is the resource an attribute refers to, or 0.
func (a axAttr) ref() uint32 {
	if a.typ == resValueReference && !a.hasStr {
		return a.data
	}
	return 0
}
