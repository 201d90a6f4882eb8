package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Device is an iPhone or iPad a tester registered from a tester page (its
// Profile Service answer), kept per workspace so that the team can add it
// to their provisioning profiles.
type Device struct {
	UDID        string    `json:"udid"`
	WorkspaceID string    `json:"workspaceId"`
	Product     string    `json:"product,omitempty"` // model identifier, "iPhone15,2"
	Version     string    `json:"version,omitempty"` // OS build, "21F90"
	Serial      string    `json:"serial,omitempty"`
	SourceKind  string    `json:"sourceKind"` // "link" or "distribution"
	SourceID    string    `json:"sourceId"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	// Reported is the latest registration of this UDID whose model, OS
	// build or serial differ from the first's (an update of iOS, or
	// someone else's claim: anyone with a tester link can post any
	// UDID). The first registration's fields are never overwritten.
	Reported *DeviceReport `json:"reported,omitempty"`
}

// DeviceReport is what a later registration of a known UDID said.
type DeviceReport struct {
	Product    string    `json:"product,omitempty"`
	Version    string    `json:"version,omitempty"`
	Serial     string    `json:"serial,omitempty"`
	SourceKind string    `json:"sourceKind"`
	SourceID   string    `json:"sourceId"`
	At         time.Time `json:"at"`
}

// MaxDevices bounds a workspace's registered devices (Apple allows 100 per
// device family and membership year; a team with several accounts stays
// far below this).
const MaxDevices = 10000

// ErrTooManyDevices is returned by RegisterDevice when the workspace has
// MaxDevices already.
var ErrTooManyDevices = fmt.Errorf("%w: the workspace has %d registered devices, the most it may have", ErrInvalid, MaxDevices)

// RegisterDevice records d (UDID upper-cased) in its workspace. A UDID
// known there keeps its first registration (model, OS build, serial,
// source, first sighting); only LastSeen moves, and a registration that
// says something else is kept as Reported.
func (s *Store) RegisterDevice(d Device) (Device, error) {
	d.UDID = strings.ToUpper(d.UDID)
	now := s.now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketWorkspaces).Get([]byte(d.WorkspaceID)) == nil {
			return fmt.Errorf("workspace %s: %w", d.WorkspaceID, ErrNotFound)
		}
		b := tx.Bucket(bucketDevices)
		k := key(d.WorkspaceID, d.UDID)
		var old Device
		switch err := get(b, k, &old); err {
		case nil:
			if d.Product != old.Product || d.Version != old.Version || d.Serial != old.Serial {
				old.Reported = &DeviceReport{Product: d.Product, Version: d.Version, Serial: d.Serial,
					SourceKind: d.SourceKind, SourceID: d.SourceID, At: now}
			}
			d = old
		case ErrNotFound:
			if n := countPrefix(b, d.WorkspaceID); n >= MaxDevices {
				return ErrTooManyDevices
			}
			d.FirstSeen = now
		default:
			return err
		}
		d.LastSeen = now
		return put(b, k, d)
	})
	return d, err
}

// Devices lists a workspace's devices, most recently seen first.
func (s *Store) Devices(workspaceID string) ([]Device, error) {
	var out []Device
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDevices).Cursor()
		prefix := key(workspaceID, "")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b Device) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, err
}

// DeleteDevice forgets a device, or returns ErrNotFound.
func (s *Store) DeleteDevice(workspaceID, udid string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDevices)
		k := key(workspaceID, strings.ToUpper(udid))
		var d Device
		if err := get(b, k, &d); err != nil {
			return err
		}
		if err := s.record(tx, AuditDeviceRemoved, AuditTarget{Kind: "device", ID: strings.ToUpper(udid), Name: d.Product}, workspaceID, nil); err != nil {
			return err
		}
		return b.Delete(k)
	})
}

func countPrefix(b *bolt.Bucket, p string) int {
	n := 0
	prefix := key(p, "")
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}
