package pkginfo

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"time"

	"howett.net/plist"
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
	Rest             asn1.RawContent // certificates, signer infos: not needed
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

type profilePlist struct {
	Name                 string         `plist:"Name"`
	TeamName             string         `plist:"TeamName"`
	TeamIdentifier       []string       `plist:"TeamIdentifier"`
	ExpirationDate       time.Time      `plist:"ExpirationDate"`
	ProvisionedDevices   []string       `plist:"ProvisionedDevices"`
	ProvisionsAllDevices bool           `plist:"ProvisionsAllDevices"`
	Entitlements         map[string]any `plist:"Entitlements"`
}

func parseProfile(data []byte) (*Profile, error) {
	content, err := profileContent(data)
	if err != nil {
		return nil, err
	}
	var p profilePlist
	if _, err := plist.Unmarshal(content, &p); err != nil {
		return nil, err
	}
	prof := &Profile{Name: p.Name, Team: p.TeamName, Expires: p.ExpirationDate.UTC(), Devices: len(p.ProvisionedDevices)}
	if len(p.TeamIdentifier) > 0 {
		prof.TeamID = p.TeamIdentifier[0]
	}
	// The profile kinds, as Xcode tells them apart: get-task-allow (a
	// debugger may attach) only in development profiles; a device list
	// without it is ad hoc; all devices is enterprise (in-house).
	debug, _ := p.Entitlements["get-task-allow"].(bool)
	switch {
	case p.ProvisionsAllDevices:
		prof.Type = "enterprise"
	case debug:
		prof.Type = "development"
	case len(p.ProvisionedDevices) > 0:
		prof.Type = "ad-hoc"
	default:
		prof.Type = "app-store"
	}
	return prof, nil
}
