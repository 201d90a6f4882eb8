package pkgtest

import (
	"encoding/binary"

	"howett.net/plist"
)

// bplist encodes objects (already encoded, object references 4 bytes wide)
// as a binary property list whose top object is the first.
func bplist(objects [][]byte) []byte {
	out := []byte("bplist00")
	var offsets []byte
	for _, o := range objects {
		offsets = binary.BigEndian.AppendUint32(offsets, uint32(len(out)))
		out = append(out, o...)
	}
	table := len(out)
	out = append(out, offsets...)
	trailer := make([]byte, 32)
	trailer[6], trailer[7] = 4, 4
	binary.BigEndian.PutUint64(trailer[8:], uint64(len(objects)))
	binary.BigEndian.PutUint64(trailer[16:], 0)
	binary.BigEndian.PutUint64(trailer[24:], uint64(table))
	return append(out, trailer...)
}

// container encodes an array (0xa) or dictionary (0xd) header for n
// entries followed by refs.
func container(kind byte, n int, refs ...uint32) []byte {
	var b []byte
	if n < 15 {
		b = []byte{kind<<4 | byte(n)}
	} else {
		b = []byte{kind<<4 | 0xf, 0x12}
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	for _, r := range refs {
		b = binary.BigEndian.AppendUint32(b, r)
	}
	return b
}

func asciiString(s string) []byte {
	if len(s) >= 15 {
		panic("short strings only")
	}
	return append([]byte{0x50 | byte(len(s))}, s...)
}

// InfoPlistDAG is a binary Info.plist with a bundle id and, under the key
// "Bomb", arrays of depth levels where each level's array points fanout
// times at the next level's: a few hundred bytes that expand to
// fanout^depth values when copied into a tree.
func InfoPlistDAG(depth, fanout int) []byte {
	// 0: top dict {1: 2, 3: 4}; 1 "CFBundleIdentifier" is too long for
	// asciiString's short form, so the key is written out here.
	key := append([]byte{0x5f, 0x10, 18}, "CFBundleIdentifier"...)
	objs := [][]byte{container(0xd, 2, 1, 3, 2, 4), key, asciiString("com.bomb"), asciiString("Bomb")}
	for level := range depth {
		next := uint32(len(objs) + 1)
		if level == depth-1 {
			objs = append(objs, container(0xa, 0))
			break
		}
		refs := make([]uint32, fanout)
		for i := range refs {
			refs[i] = next
		}
		objs = append(objs, container(0xa, fanout, refs...))
	}
	return bplist(objs)
}

// InfoPlistDeep is a binary Info.plist whose "Bomb" key holds arrays
// nested depth deep, one inside the other.
func InfoPlistDeep(depth int) []byte {
	key := append([]byte{0x5f, 0x10, 18}, "CFBundleIdentifier"...)
	objs := [][]byte{container(0xd, 2, 1, 3, 2, 4), key, asciiString("com.bomb"), asciiString("Bomb")}
	for level := range depth {
		if level == depth-1 {
			objs = append(objs, container(0xa, 0))
			break
		}
		objs = append(objs, container(0xa, 1, uint32(len(objs)+1)))
	}
	return bplist(objs)
}

// IPAWithInfoPlist is an IPA holding the given Info.plist and the given
// files of the app bundle (names relative to it).
func IPAWithInfoPlist(info []byte, bundle ...Entry) []byte {
	entries := []Entry{{"Payload/", nil}, {"Payload/Bomb.app/Info.plist", info}}
	for _, e := range bundle {
		entries = append(entries, Entry{"Payload/Bomb.app/" + e.Name, e.Data})
	}
	return Zip(entries...)
}

// InfoPlist is a binary Info.plist with only a bundle identifier.
func InfoPlist(bundleID string) []byte {
	b, err := plist.Marshal(map[string]any{"CFBundleIdentifier": bundleID}, plist.BinaryFormat)
	must(err)
	return b
}
