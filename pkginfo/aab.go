package pkginfo

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// An Android App Bundle keeps its manifest in aapt2's protobuf form
// (base/manifest/AndroidManifest.xml, message aapt.pb.XmlNode of
// Resources.proto). The few fields Hangar needs are decoded by hand: a
// protobuf module and the generated code would be larger than this file.
// The icon would need resources.pb resolved as well; it is not read.

const androidNS = "http://schemas.android.com/apk/res/android"

func readAAB(a *archive) (Info, error) {
	info := Info{OS: "android"}
	data, ok, err := a.readName("base/manifest/AndroidManifest.xml", a.lim.Entry)
	if err != nil {
		return info, err
	}
	if !ok {
		return info, invalidf("no base/manifest/AndroidManifest.xml: not an Android App Bundle")
	}
	root, err := decodeXMLNode(data, 0)
	if err != nil || root == nil || root.name != "manifest" {
		return info, invalidf("base/manifest/AndroidManifest.xml is not a protobuf manifest")
	}
	info.BundleID = root.attr("", "package")
	if info.BundleID == "" {
		return info, invalidf("the manifest has no package name")
	}
	info.Version = root.attr(androidNS, "versionName")
	info.Build = root.attr(androidNS, "versionCode")
	for _, c := range root.children {
		switch c.name {
		case "uses-sdk":
			info.MinOS = c.attr(androidNS, "minSdkVersion")
			info.TargetSDK = c.attr(androidNS, "targetSdkVersion")
		case "application":
			info.AppName = c.attr(androidNS, "label") // literal labels only; references stay ""
		}
	}
	info.Notes = append(info.Notes, "icons are not read from Android App Bundles (resources.pb is not parsed)")
	return info, nil
}

type pbElement struct {
	name     string
	attrs    []pbAttr
	children []*pbElement
}

type pbAttr struct {
	ns, name, value string
}

func (e *pbElement) attr(ns, name string) string {
	for _, a := range e.attrs {
		if a.ns == ns && a.name == name {
			return a.value
		}
	}
	return ""
}

// maxDepth bounds the recursion of nested elements; real manifests are a
// handful deep.
const maxDepth = 64

var errProto = errors.New("malformed protobuf")

// decodeXMLNode decodes an XmlNode; it returns nil for a text node.
func decodeXMLNode(b []byte, depth int) (*pbElement, error) {
	if depth > maxDepth {
		return nil, errProto
	}
	var el *pbElement
	err := pbFields(b, func(num int, wire int, v []byte, _ uint64) error {
		if num == 1 && wire == 2 { // element
			var err error
			el, err = decodeXMLElement(v, depth)
			return err
		}
		return nil
	})
	return el, err
}

func decodeXMLElement(b []byte, depth int) (*pbElement, error) {
	el := &pbElement{}
	err := pbFields(b, func(num int, wire int, v []byte, _ uint64) error {
		if wire != 2 {
			return nil
		}
		switch num {
		case 3:
			el.name = string(v)
		case 4:
			a, err := decodeXMLAttr(v)
			if err != nil {
				return err
			}
			el.attrs = append(el.attrs, a)
		case 5:
			c, err := decodeXMLNode(v, depth+1)
			if err != nil {
				return err
			}
			if c != nil {
				el.children = append(el.children, c)
			}
		}
		return nil
	})
	return el, err
}

// decodeXMLAttr reads XmlAttribute: namespace_uri = 1, name = 2, value = 3,
// compiled_item = 6. The value string is what the source said; when it is
// empty the compiled item's string or integer is used.
func decodeXMLAttr(b []byte) (pbAttr, error) {
	var a pbAttr
	var item []byte
	err := pbFields(b, func(num int, wire int, v []byte, _ uint64) error {
		if wire != 2 {
			return nil
		}
		switch num {
		case 1:
			a.ns = string(v)
		case 2:
			a.name = string(v)
		case 3:
			a.value = string(v)
		case 6:
			item = v
		}
		return nil
	})
	if err != nil || a.value != "" || item == nil {
		return a, err
	}
	// Item: str = 2 (String: value = 1), prim = 7 (Primitive:
	// int_decimal_value = 6, int_hexadecimal_value = 7).
	err = pbFields(item, func(num int, wire int, v []byte, _ uint64) error {
		if wire != 2 || (num != 2 && num != 7) {
			return nil
		}
		return pbFields(v, func(n2 int, w2 int, v2 []byte, x uint64) error {
			switch {
			case num == 2 && n2 == 1 && w2 == 2:
				a.value = string(v2)
			case num == 7 && (n2 == 6 || n2 == 7) && w2 == 0:
				a.value = strconv.FormatInt(int64(int32(x)), 10)
			}
			return nil
		})
	})
	return a, err
}

// pbFields calls fn for each field of a protobuf message: for wire type 2
// with its bytes, for varints with their value. Fixed-width fields are
// skipped; groups are refused.
func pbFields(b []byte, fn func(num, wire int, v []byte, x uint64) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errProto
		}
		b = b[n:]
		num, wire := int(tag>>3), int(tag&7)
		var v []byte
		var x uint64
		switch wire {
		case 0:
			if x, n = binary.Uvarint(b); n <= 0 {
				return errProto
			}
			b = b[n:]
		case 1, 5:
			w := 8
			if wire == 5 {
				w = 4
			}
			if len(b) < w {
				return errProto
			}
			b = b[w:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errProto
			}
			v, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return errProto
		}
		if err := fn(num, wire, v, x); err != nil {
			return err
		}
	}
	return nil
}
