package pkgtest

import (
	"bytes"
	"encoding/binary"
)

// Element is an element of Android's binary XML.
type Element struct {
	Name     string
	Attrs    []Attr
	Children []Element
}

// Attr is an attribute: a string (Str), or a typed value (Type, Data:
// 0x01 a reference, 0x10 a decimal integer).
type Attr struct {
	NS, Name, Str string
	Type          uint8
	Data          uint32
}

// Manifest is an APK's manifest for package pkg, version name and code,
// an application label and a uses-sdk element.
func Manifest(pkg, versionName string, versionCode uint32, label string) Element {
	return Element{Name: "manifest", Attrs: []Attr{
		{Name: "package", Str: pkg},
		{NS: AndroidNS, Name: "versionCode", Type: 0x10, Data: versionCode},
		{NS: AndroidNS, Name: "versionName", Str: versionName},
	}, Children: []Element{
		{Name: "uses-sdk", Attrs: []Attr{{NS: AndroidNS, Name: "minSdkVersion", Type: 0x10, Data: 21}, {NS: AndroidNS, Name: "targetSdkVersion", Type: 0x10, Data: 34}}},
		{Name: "application", Attrs: []Attr{{NS: AndroidNS, Name: "label", Str: label}}},
	}}
}

type pool struct {
	strs  []string
	index map[string]uint32
}

func (p *pool) ref(s string) uint32 {
	if s == "" {
		return 0xffffffff
	}
	if i, ok := p.index[s]; ok {
		return i
	}
	p.index[s] = uint32(len(p.strs))
	p.strs = append(p.strs, s)
	return uint32(len(p.strs) - 1)
}

func chunk(typ uint16, headerSize int, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	b := binary.LittleEndian.AppendUint16(nil, typ)
	b = binary.LittleEndian.AppendUint16(b, uint16(headerSize))
	b = binary.LittleEndian.AppendUint32(b, uint32(8+len(body)))
	return append(b, body...)
}

func u32s(xs ...uint32) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func u16s(xs ...uint16) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

// utf8Len writes a string pool length: one byte, or two with the high bit.
func utf8Len(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	return []byte{byte(n>>8) | 0x80, byte(n)}
}

// stringPool encodes strs as a UTF-8 ResStringPool; extra more entries
// all point at the last string (none when extra is 0).
func stringPool(strs []string, extra int) []byte {
	var data []byte
	offsets := make([]uint32, 0, len(strs)+extra)
	for _, s := range strs {
		offsets = append(offsets, uint32(len(data)))
		data = append(data, utf8Len(len(s))...)
		data = append(data, utf8Len(len(s))...)
		data = append(data, s...)
		data = append(data, 0)
	}
	for range extra {
		offsets = append(offsets, offsets[len(offsets)-1])
	}
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	count := len(offsets)
	header := u32s(uint32(count), 0, 1<<8, uint32(28+4*count), 0)
	return chunk(0x0001, 28, header, u32s(offsets...), data)
}

// AXML encodes root as Android's binary XML, the way aapt does. With
// poolBomb > 0, the string pool also holds a 32,000-byte string and
// poolBomb entries that all point at it: a reader that copies each entry
// needs poolBomb × 32 KB.
func AXML(root Element, poolBomb int) []byte {
	p := &pool{index: map[string]uint32{}}
	p.ref("android")
	p.ref(AndroidNS)
	var body [][]byte
	var walk func(e Element)
	walk = func(e Element) {
		var attrs []byte
		for _, a := range e.Attrs {
			raw, typ, data := uint32(0xffffffff), a.Type, a.Data
			if a.Str != "" {
				raw, typ = p.ref(a.Str), 0x03
				data = raw
			}
			attrs = append(attrs, u32s(p.ref(a.NS), p.ref(a.Name), raw)...)
			attrs = append(attrs, u16s(8)...)
			attrs = append(attrs, 0, typ)
			attrs = append(attrs, u32s(data)...)
		}
		ext := append(u32s(0xffffffff, p.ref(e.Name)), u16s(20, 20, uint16(len(e.Attrs)), 0, 0, 0)...)
		body = append(body, chunk(0x0102, 16, u32s(1, 0xffffffff), ext, attrs))
		for _, c := range e.Children {
			walk(c)
		}
		body = append(body, chunk(0x0103, 16, u32s(1, 0xffffffff, 0xffffffff, p.ref(e.Name))))
	}
	walk(root)
	extra := 0
	if poolBomb > 0 {
		p.ref(string(bytes.Repeat([]byte("A"), 32000)))
		extra = poolBomb
	}
	ns := u32s(1, 0xffffffff, 0, 1)
	parts := append([][]byte{stringPool(p.strs, extra), chunk(0x0100, 16, ns)}, body...)
	parts = append(parts, chunk(0x0101, 16, ns))
	return chunk(0x0003, 8, parts...)
}

// ARSCPoolBomb is a resources.arsc whose global string pool has n entries
// that all point at one 32,000-byte string.
func ARSCPoolBomb(n int) []byte {
	return chunk(0x0002, 12, u32s(0), stringPool([]string{string(bytes.Repeat([]byte("A"), 32000))}, n))
}

// APK builds an APK of a manifest and optional resources.arsc.
func APK(manifest, arsc []byte) []byte {
	entries := []Entry{{"AndroidManifest.xml", manifest}}
	if arsc != nil {
		entries = append(entries, Entry{"resources.arsc", arsc})
	}
	return Zip(entries...)
}
