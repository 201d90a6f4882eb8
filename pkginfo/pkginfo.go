// Package pkginfo reads what testers need to know about an app package
// (IPA, APK, AAB): name, identifier, version, minimum OS, icon and, for iOS,
// the provisioning profile. It reads the archive in place, through
// io.ReaderAt, with a budget on everything it inflates: nothing is
// extracted to disk and no size or path in the archive is trusted.
package pkginfo

import (
	"errors"
	"io"
	"path"
	"strings"
	"time"
)

// Info is what a package says about itself. Empty fields were not found.
type Info struct {
	Kind      string // "ipa", "apk" or "aab"
	OS        string // "ios" or "android"
	AppName   string
	BundleID  string // iOS bundle identifier or Android package name
	Version   string // CFBundleShortVersionString or versionName
	Build     string // CFBundleVersion or versionCode
	MinOS     string // MinimumOSVersion, or minSdkVersion as a number
	TargetSDK string // Android only
	Icon      *Icon
	Profile   *Profile // iOS only, when the IPA embeds one
	// Notes say what could not be read, for people: the package is still
	// usable without it (no icon, an unreadable profile).
	Notes []string
}

// Icon is an app icon, ready to serve.
type Icon struct {
	Data     []byte
	MimeType string // image/png or image/webp
	Width    int
	Height   int
}

// Profile is the provisioning profile embedded in an IPA.
type Profile struct {
	Name    string    `json:"name"`
	Team    string    `json:"team,omitempty"`
	TeamID  string    `json:"teamId,omitempty"`
	Expires time.Time `json:"expires"`
	Created time.Time `json:"created,omitzero"` // the profile is not valid before
	// Type is "development", "ad-hoc", "enterprise" or "app-store".
	Type    string `json:"type"`
	Devices int    `json:"devices"` // provisioned device UDIDs; 0 for enterprise
	// DeviceIDs are the provisioned UDIDs (at most MaxProfileDevices, each
	// at most 64 bytes), for telling a tester whether a build installs on
	// their device.
	DeviceIDs []string `json:"deviceIds,omitempty"`
}

// MaxProfileDevices bounds the UDIDs kept from a profile: Apple allows 100
// per device family, so a real profile lists at most a few hundred.
const MaxProfileDevices = 2000

// ErrInvalid means the file is not a readable package of its kind. Its
// message says why, for the person who uploaded it.
var ErrInvalid = errors.New("invalid package")

// Limits bound the work and memory spent on one package.
type Limits struct {
	// DirectoryBytes caps the zip's central directory, which archive/zip
	// holds in memory whole: a crafted archive of millions of empty
	// entries is refused here.
	DirectoryBytes int64
	// Entries caps the number of entries.
	Entries int
	// Inflate caps the bytes inflated from the archive in all.
	Inflate int64
	// Entry caps one metadata entry (Info.plist, AndroidManifest.xml,
	// a profile); Resources caps resources.arsc; IconBytes one icon.
	Entry, Resources, IconBytes int64
	// IconPixels caps an iOS icon's width×height before it is decoded.
	IconPixels int
	// Memory caps what reading one package allocates: entry buffers,
	// decoded property lists, resource tables and manifests, icons. A
	// package that needs more is refused, whatever its bytes say.
	Memory int64
}

// DefaultLimits are generous for real apps: the largest IPAs hold some
// 100,000 entries, resources.arsc of big apps is a few MiB (the largest
// seen, some 15 MiB), icons 1024×1024.
var DefaultLimits = Limits{
	DirectoryBytes: 32 << 20,
	Entries:        200_000,
	Inflate:        128 << 20,
	Entry:          4 << 20,
	Resources:      32 << 20,
	IconBytes:      4 << 20,
	IconPixels:     2048 * 2048,
	Memory:         128 << 20,
}

// readers read each kind of package, by extension.
var readers = map[string]func(*archive) (Info, error){
	"ipa": readIPA,
	"apk": readAPK,
	"aab": readAAB,
}

// Kind returns the package kind of a file name ("ipa", "apk", "aab"), or ""
// for files Hangar does not read.
func Kind(name string) string {
	if ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), ".")); readers[ext] != nil {
		return ext
	}
	return ""
}

// Read reads the package r of the given size; name's extension says what
// kind it is. Errors wrap ErrInvalid when the package itself is at fault.
func Read(r io.ReaderAt, size int64, name string, lim Limits) (info Info, err error) {
	kind := Kind(name)
	if kind == "" {
		return Info{}, invalidf("%q is not an IPA, APK or AAB", name)
	}
	z, err := openZip(r, size, lim)
	if err != nil {
		return Info{}, err
	}
	// The binary parsers are third-party code fed hostile input: a panic
	// in one is this package's fault, never the server's.
	defer func() {
		if p := recover(); p != nil {
			err = invalidf("the %s could not be parsed (%v)", strings.ToUpper(kind), p)
		}
	}()
	info, err = readers[kind](z)
	info.Kind = kind
	return info, err
}
