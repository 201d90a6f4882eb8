package pkginfo

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"time"
)

// An embedded.mobileprovision is a CMS SignedData (RFC 5652) whose content
// is an XML property list. Hangar shows what the profile claims; it does
// not verify Apple's signature (the phone does, at install).

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContent     encapContent
	// Certificates, CRLs and signer infos, when present: not needed.
	Rest1, Rest2, Rest3 asn1.RawValue `asn1:"optional"`
}

type encapContent struct {
	ContentType asn1.ObjectIdentifier
	Content     []byte `asn1:"explicit,optional,tag:0"`
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// profileContent returns the plist inside a profile. Some signing tools
// write BER with indefinite lengths, which encoding/asn1 (DER only)
// refuses; for those the XML plist is found by its delimiters, which is
// unambiguous because the content is stored as one octet string.
func profileContent(data []byte) ([]byte, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(data, &ci); err == nil && len(rest) == 0 && ci.ContentType.Equal(oidSignedData) {
		var sd signedData
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err == nil && len(sd.EncapContent.Content) > 0 {
			return sd.EncapContent.Content, nil
		}
	}
	start := bytes.Index(data, []byte("<?xml"))
	end := bytes.Index(data, []byte("</plist>"))
	if start < 0 || end < start {
		return nil, errors.New("not a signed property list")
	}
	return data[start : end+len("</plist>")], nil
}

func parseProfile(data []byte, mem *memBudget) (*Profile, error) {
	content, err := profileContent(data)
	if err != nil {
		return nil, err
	}
	p, err := decodePlist(content, mem)
	if err != nil {
		return nil, err
	}
	str := func(v any) string { s, _ := v.(string); return s }
	devices, _ := p["ProvisionedDevices"].([]any)
	expires, _ := p["ExpirationDate"].(time.Time)
	created, _ := p["CreationDate"].(time.Time)
	prof := &Profile{Name: str(p["Name"]), Team: str(p["TeamName"]), Expires: expires.UTC(), Created: created.UTC(), Devices: len(devices)}
	for _, d := range devices {
		if id, ok := d.(string); ok && len(id) <= 64 && len(prof.DeviceIDs) < MaxProfileDevices {
			prof.DeviceIDs = append(prof.DeviceIDs, id)
		}
	}
	if ids, _ := p["TeamIdentifier"].([]any); len(ids) > 0 {
		prof.TeamID = str(ids[0])
	}
	entitlements, _ := p["Entitlements"].(map[string]any)
	debug, _ := entitlements["get-task-allow"].(bool)
	allDevices, _ := p["ProvisionsAllDevices"].(bool)
	// The profile kinds, as Xcode tells them apart: get-task-allow (a
	// debugger may attach) only in development profiles; a device list
	// without it is ad hoc; all devices is enterprise (in-house).
	switch {
	case allDevices:
		prof.Type = "enterprise"
	case debug:
		prof.Type = "development"
	case len(devices) > 0:
		prof.Type = "ad-hoc"
	default:
		prof.Type = "app-store"
	}
	return prof, nil
}
