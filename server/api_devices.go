package server

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"hangar/store"
)

// The devices testers registered in a workspace (tester_devices.go), for its
// members: a list, Apple's import format, and removal by an admin.

// deviceEntry is a registered device as the API lists it.
type deviceEntry struct {
	UDID        string              `json:"udid"`
	WorkspaceID string              `json:"workspaceId"`
	Product     string              `json:"product,omitempty"`
	Version     string              `json:"version,omitempty"`
	Serial      string              `json:"serial,omitempty"`
	SourceKind  string              `json:"sourceKind"`
	SourceID    string              `json:"sourceId"`
	FirstSeen   time.Time           `json:"firstSeen"`
	LastSeen    time.Time           `json:"lastSeen"`
	Reported    *deviceReportAnswer `json:"reported,omitempty"`
}

// deviceReportAnswer is a later registration that said something else.
type deviceReportAnswer struct {
	Product    string    `json:"product,omitempty"`
	Version    string    `json:"version,omitempty"`
	Serial     string    `json:"serial,omitempty"`
	SourceKind string    `json:"sourceKind"`
	SourceID   string    `json:"sourceId"`
	At         time.Time `json:"at"`
}

func viewDevice(d store.Device) deviceEntry {
	v := deviceEntry{UDID: d.UDID, WorkspaceID: d.WorkspaceID, Product: d.Product, Version: d.Version, Serial: d.Serial,
		SourceKind: d.SourceKind, SourceID: d.SourceID, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen}
	if r := d.Reported; r != nil {
		v.Reported = &deviceReportAnswer{Product: r.Product, Version: r.Version, Serial: r.Serial, SourceKind: r.SourceKind, SourceID: r.SourceID, At: r.At}
	}
	return v
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, c *call) error {
	devs, err := s.store.Devices(c.ws.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(devs, viewDevice))
	return nil
}

// exportDevices writes the tab-separated file Apple's developer portal
// takes under Devices › Register Multiple Devices.
func (s *Server) exportDevices(w http.ResponseWriter, r *http.Request, c *call) error {
	devs, err := s.store.Devices(c.ws.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/tab-separated-values; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+c.ws.Slug+`-devices.txt"`)
	w.Write(devicesTSV(devs))
	return nil
}

func devicesTSV(devs []store.Device) []byte {
	var b bytes.Buffer
	b.WriteString("Device ID\tDevice Name\tDevice Platform\n")
	for _, d := range devs {
		b.WriteString(d.UDID + "\t" + deviceName(d) + "\tios\n")
	}
	return b.Bytes()
}

// deviceName names a device for Apple's list (at most 50 characters, no
// tab): its model and the end of its UDID, since iOS does not send the
// name its owner gave it.
func deviceName(d store.Device) string {
	name := strings.Map(func(r rune) rune {
		if r < ' ' || r == '\t' {
			return -1
		}
		return r
	}, cut(d.Product, 30))
	if name == "" {
		name = "iOS device"
	}
	return name + " " + d.UDID[max(0, len(d.UDID)-8):]
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().DeleteDevice(c.ws.ID, c.params.ByName("udid")); err != nil {
		return notFoundAs(err, "device")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
