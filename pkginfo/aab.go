package pkginfo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// An Android App Bundle keeps its manifest and resource table in aapt2's
// protobuf form (base/manifest/AndroidManifest.xml: aapt.pb.XmlNode;
// base/resources.pb: aapt.pb.ResourceTable; both of Resources.proto). The
// few fields Hangar needs are read field by field with protowire: the
// generated code for Resources.proto would be larger than this file.

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
	root, err := decodeXMLNode(data, 0, a.mem)
	if err != nil || root == nil || root.name != "manifest" {
		return info, invalidf("base/manifest/AndroidManifest.xml is not a protobuf manifest")
	}
	info.BundleID = root.attr("", "package").value
	if info.BundleID == "" {
		return info, invalidf("the manifest has no package name")
	}
	info.Version = root.attr(androidNS, "versionName").value
	info.Build = root.attr(androidNS, "versionCode").value
	var label, icon pbAttr
	for _, c := range root.children {
		switch c.name {
		case "uses-sdk":
			info.MinOS = c.attr(androidNS, "minSdkVersion").value
			info.TargetSDK = c.attr(androidNS, "targetSdkVersion").value
		case "application":
			label, icon = c.attr(androidNS, "label"), c.attr(androidNS, "icon")
		}
	}
	info.AppName = label.value
	if label.ref == 0 && icon.ref == 0 {
		if icon.value == "" {
			info.Notes = append(info.Notes, "the manifest names no icon")
		}
		return info, nil
	}
	table, ok, err := a.readName("base/resources.pb", a.lim.Resources)
	switch {
	case err != nil:
		info.Notes = append(info.Notes, fmt.Sprintf("resources not read (%v): no label or icon", err))
		return info, nil
	case !ok:
		info.Notes = append(info.Notes, "no base/resources.pb: no label or icon")
		return info, nil
	}
	if label.ref != 0 {
		if vals, err := lookupResource(table, label.ref); err == nil {
			info.AppName = defaultString(vals)
		}
	}
	if icon.ref != 0 {
		if ic, err := a.aabIcon(table, icon.ref); err != nil {
			info.Notes = append(info.Notes, "icon not read: "+err.Error())
		} else {
			info.Icon = ic
		}
	}
	return info, nil
}

// aabIcon resolves the launcher icon to its largest bitmap; for an adaptive
// icon (a proto XML drawable) to its foreground layer's.
func (a *archive) aabIcon(table []byte, ref uint32) (*Icon, error) {
	vals, err := lookupResource(table, ref)
	if err != nil {
		return nil, err
	}
	if p := a.largestBitmap(vals); p != "" {
		return a.apkBitmap(p)
	}
	for _, v := range vals {
		if !strings.HasSuffix(v.file, ".xml") {
			continue
		}
		data, ok, err := a.readName("base/"+v.file, a.lim.Entry)
		if err != nil || !ok {
			continue
		}
		root, err := decodeXMLNode(data, 0, a.mem)
		if err != nil || root == nil || root.name != "adaptive-icon" {
			continue
		}
		for _, c := range root.children {
			if fg := c.attr(androidNS, "drawable"); c.name == "foreground" && fg.ref != 0 {
				if fgVals, err := lookupResource(table, fg.ref); err == nil {
					if p := a.largestBitmap(fgVals); p != "" {
						return a.apkBitmap(p)
					}
				}
			}
		}
	}
	return nil, fmt.Errorf("resource 0x%08x resolves to no PNG or WebP bitmap (a vector or adaptive icon without one)", ref)
}

// largestBitmap returns the bundle path of the densest PNG or WebP among
// a resource's values (an mdpi PNG can be more bytes than an hdpi one, so
// size only breaks ties).
func (a *archive) largestBitmap(vals []pbValue) string {
	best, bestDensity, bestSize := "", -1, uint64(0)
	for _, v := range vals {
		f := a.byName["base/"+v.file]
		if v.file == "" || !isBitmap(v.file) || f == nil {
			continue
		}
		d := v.density
		switch {
		case d == 0:
			d = densityMedium // the default configuration is mdpi
		case d >= densityAny:
			d = 0
		}
		if d > bestDensity || d == bestDensity && f.UncompressedSize64 > bestSize {
			best, bestDensity, bestSize = f.Name, d, f.UncompressedSize64
		}
	}
	return best
}

// defaultString is a string resource's value for the default configuration,
// or its first value.
func defaultString(vals []pbValue) string {
	for _, v := range vals {
		if v.defaultConfig && v.str != "" {
			return v.str
		}
	}
	for _, v := range vals {
		if v.str != "" {
			return v.str
		}
	}
	return ""
}

// pbValue is one configuration's value of a resource: a string, or a file.
type pbValue struct {
	str, file     string
	defaultConfig bool
	density       int // dpi; 0 when the configuration names none
}

// lookupResource returns the values of resource id (0xPPTTEEEE) in a
// ResourceTable: package = 2 {package_id = 1 {id = 1}, type = 3 {type_id =
// 1 {id = 1}, entry = 3 {entry_id = 1 {id = 1}, config_value = 6}}}.
func lookupResource(table []byte, id uint32) ([]pbValue, error) {
	wantPkg, wantType, wantEntry := uint64(id>>24), uint64(id>>16&0xff), uint64(id&0xffff)
	var out []pbValue
	err := pbEach(table, 2, func(pkg []byte) error {
		if pbID(pkg) != wantPkg {
			return nil
		}
		return pbEach(pkg, 3, func(typ []byte) error {
			if pbID(typ) != wantType {
				return nil
			}
			return pbEach(typ, 3, func(entry []byte) error {
				if pbID(entry) != wantEntry {
					return nil
				}
				return pbEach(entry, 6, func(cv []byte) error {
					out = append(out, decodeConfigValue(cv))
					return nil
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("resource 0x%08x is not in resources.pb", id)
	}
	return out, nil
}

// pbID reads a Package, Type or Entry's id: field 1, a message {id = 1}.
// Absent ids are 0, as in proto3.
func pbID(msg []byte) uint64 {
	_, id, _ := pbGet(msg, 1, 1)
	return id
}

// decodeConfigValue reads a ConfigValue: config = 1 {density = 18} (empty
// or absent for the default configuration), value = 2 {item = 4 {str = 2
// {value = 1}, file = 5 {path = 1}}}.
func decodeConfigValue(cv []byte) pbValue {
	cfg, _, hasCfg := pbGet(cv, 1)
	_, density, _ := pbGet(cv, 1, 18)
	str, _, _ := pbGet(cv, 2, 4, 2, 1)
	file, _, _ := pbGet(cv, 2, 4, 5, 1)
	return pbValue{str: string(str), file: string(file), defaultConfig: !hasCfg || len(cfg) == 0, density: int(min(density, 0xffff))}
}

type pbElement struct {
	name     string
	attrs    []pbAttr
	children []*pbElement
}

type pbAttr struct {
	ns, name, value string
	ref             uint32 // the resource a compiled reference names
}

func (e *pbElement) attr(ns, name string) pbAttr {
	for _, a := range e.attrs {
		if a.ns == ns && a.name == name {
			return a
		}
	}
	return pbAttr{}
}

// maxDepth bounds the recursion of nested elements; real manifests are a
// handful deep.
const maxDepth = 64

var errProto = errors.New("malformed protobuf")

// decodeXMLNode decodes an XmlNode; it returns nil for a text node.
func decodeXMLNode(b []byte, depth int, mem *memBudget) (*pbElement, error) {
	if depth > maxDepth {
		return nil, errProto
	}
	var el *pbElement
	err := pbEach(b, 1, func(v []byte) error { // element
		var err error
		el, err = decodeXMLElement(v, depth, mem)
		return err
	})
	return el, err
}

// pbElementCost is what an element or attribute costs beyond its strings.
const pbElementCost = 128

func decodeXMLElement(b []byte, depth int, mem *memBudget) (*pbElement, error) {
	if err := mem.charge(pbElementCost); err != nil {
		return nil, err
	}
	el := &pbElement{}
	err := pbFields(b, func(num int, wire int, v []byte, _ uint64) error {
		if wire != 2 {
			return nil
		}
		switch num {
		case 3:
			if err := mem.charge(int64(len(v))); err != nil {
				return err
			}
			el.name = string(v)
		case 4:
			if err := mem.charge(pbElementCost + int64(len(v))); err != nil {
				return err
			}
			a, err := decodeXMLAttr(v)
			if err != nil {
				return err
			}
			el.attrs = append(el.attrs, a)
		case 5:
			c, err := decodeXMLNode(v, depth+1, mem)
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
	if err != nil || item == nil {
		return a, err
	}
	// Item: ref = 1 (Reference: id = 2), str = 2 (String: value = 1),
	// prim = 7 (Primitive: int_decimal_value = 6, int_hexadecimal_value = 7).
	if _, id, ok := pbGet(item, 1, 2); ok {
		a.ref = uint32(id)
	}
	if a.value == "" {
		if str, _, ok := pbGet(item, 2, 1); ok {
			a.value = string(str)
		} else if _, x, ok := pbGet(item, 7, 6); ok {
			a.value = strconv.FormatInt(int64(int32(x)), 10)
		} else if _, x, ok := pbGet(item, 7, 7); ok {
			a.value = strconv.FormatInt(int64(int32(x)), 10)
		}
	}
	if a.ref != 0 && strings.HasPrefix(a.value, "@") {
		a.value = "" // "@string/app_name" is a name, not a value
	}
	return a, err
}

// pbEach calls fn with each length-delimited field num of a message: the
// elements of a repeated message field.
func pbEach(b []byte, num int, fn func(v []byte) error) error {
	return pbFields(b, func(n, wire int, v []byte, _ uint64) error {
		if n != num || wire != 2 {
			return nil
		}
		return fn(v)
	})
}

// pbGet follows path, field numbers from the outermost message in, to the
// first field at its end: its bytes (length-delimited) or its value
// (varint). ok is false when a field on the way is absent or malformed.
func pbGet(b []byte, path ...int) (v []byte, x uint64, ok bool) {
	for i, num := range path {
		last, found := i == len(path)-1, false
		pbFields(b, func(n, wire int, fv []byte, fx uint64) error {
			if !found && n == num && (last || wire == 2) {
				found, v, x = true, fv, fx
			}
			return nil
		})
		if !found {
			return nil, 0, false
		}
		b = v
	}
	return v, x, true
}

// pbFields calls fn for each field of a protobuf message: for wire type 2
// with its bytes, for varints with their value. Fixed-width fields are
// skipped; groups are refused.
func pbFields(b []byte, fn func(num, wire int, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errProto
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.Fixed32Type, protowire.Fixed64Type:
			n = protowire.ConsumeFieldValue(num, typ, b)
		default:
			return errProto
		}
		if n < 0 {
			return errProto
		}
		b = b[n:]
		if err := fn(int(num), int(typ), v, x); err != nil {
			return err
		}
	}
	return nil
}
