package server

import (
	"net/http"

	"hangar/auth"
	"hangar/store"
)

// The console's list of a workspace's registered devices (tester_devices.go).

type devicesPage struct {
	Workspace workspaceRow
	Devices   []store.Device
	CanRemove bool
}

func (s *Server) devicesPage(w http.ResponseWriter, r *http.Request, c *call) error {
	devs, err := s.store.Devices(c.ws.ID)
	if err != nil {
		return err
	}
	perms, _ := c.who.permissions(c.ws.ID, "")
	s.renderPage(w, r, http.StatusOK, "devices", "Devices", c, devicesPage{
		Workspace: workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)},
		Devices:   devs, CanRemove: perms.Has(auth.WorkspaceAdmin),
	})
	return nil
}

func (s *Server) removeDeviceSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().DeleteDevice(c.ws.ID, c.params.ByName("udid")); err != nil {
		return notFoundAs(err, "device")
	}
	http.Redirect(w, r, "/w/"+c.ws.Slug+"/devices", http.StatusSeeOther)
	return nil
}
