package pkginfo

import (
	"bytes"
	"errors"
	"time"

	"hangar/cms"
)

// An embedded.mobileprovision is a CMS SignedData (RFC 5652) whose content
// is an XML property list, read with package cms's one definition of that
// structure. Hangar shows what the profile claims; it does not verify
// Apple's signature (the phone does, at install).

// profileContent returns the plist inside a profile. Some signing tools
// write BER with indefinite lengths, which encoding/asn1 (DER only)
// refuses; for those the XML plist is found by its delimiters, which is
// unambiguous because the content is stored as one octet string.
//
// A profile may be as large as an archive entry (its device list), larger
// than cms's own budget for a device's answer: the caller's budget has
// bounded data already.
func profileContent(data []byte) ([]byte, error) {
	if content, err := cms.Content(data, len(data)); err == nil {
		return content, nil
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
