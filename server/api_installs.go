package server

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hangar/mail"
	"hangar/store"
)

// Who installed what, in the workspace API: a build's, a distribution's
// and a tester's install records, newest first, as JSON pages or a whole
// CSV (?format=csv). They name people: who may choose testers
// (BUILD_CREATE_LINKS) reads them.

type installView struct {
	Time         isoTime `json:"time"`
	Tester       string  `json:"tester"`
	BuildID      string  `json:"buildId"`
	FileID       string  `json:"fileId"`
	Kind         string  `json:"kind"`
	Device       device  `json:"device"`
	ClientIP     string  `json:"clientIp"`
	Distribution string  `json:"distributionId,omitempty"`
	Link         string  `json:"linkId,omitempty"`
}

func viewInstall(i store.Install) installView {
	return installView{Time: isoTime(i.Time), Tester: i.Tester, BuildID: i.BuildID, FileID: i.FileID, Kind: i.Kind,
		Device: device{Platform: i.Platform, Model: i.Model}, ClientIP: i.ClientIP, Distribution: i.DistributionID, Link: i.LinkID}
}

const (
	defaultInstallPage = 100
	maxInstallPage     = 1000
)

func (s *Server) buildInstalls(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err != nil {
		return err
	}
	return s.writeInstalls(w, r, store.InstallQuery{BuildID: b.ID}, "installs-"+b.ID)
}

func (s *Server) distributionInstalls(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.projectDistribution(c)
	if err != nil {
		return err
	}
	return s.writeInstalls(w, r, store.InstallQuery{DistributionID: d.ID}, "installs-"+d.Slug)
}

// testerInstalls lists a tester's records in the workspace: ?tester= an
// address, or a member's username.
func (s *Server) testerInstalls(w http.ResponseWriter, r *http.Request, c *call) error {
	who := strings.TrimSpace(r.URL.Query().Get("tester"))
	if a, err := mail.ValidAddress(who); err == nil {
		who = strings.ToLower(a)
	} else if !store.ValidUsername(who) {
		return errBadRequest("tester must be an e-mail address or a username")
	}
	return s.writeInstalls(w, r, store.InstallQuery{WorkspaceID: c.ws.ID, Tester: who}, "installs")
}

// writeInstalls answers a page (?limit=, ?cursor= from the X-Next-Cursor
// header of the last one) or, with ?format=csv, every record.
func (s *Server) writeInstalls(w http.ResponseWriter, r *http.Request, q store.InstallQuery, name string) error {
	v := r.URL.Query()
	limit := defaultInstallPage
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxInstallPage {
			return errBadRequest("limit must be 1 to 1000")
		}
		limit = n
	}
	var before uint64
	if cur := v.Get("cursor"); cur != "" {
		n, err := strconv.ParseUint(cur, 10, 64)
		if err != nil || n == 0 {
			return errBadRequest("cursor is the X-Next-Cursor of the previous page")
		}
		before = n
	}
	switch v.Get("format") {
	case "", "json":
		page, next, err := s.store.Installs(q, before, limit)
		if err != nil {
			return err
		}
		if next != 0 {
			w.Header().Set("X-Next-Cursor", strconv.FormatUint(next, 10))
		}
		writeJSON(w, http.StatusOK, viewAll(page, viewInstall))
		return nil
	case "csv":
	default:
		return errBadRequest(`format must be "json" or "csv"`)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "tester", "buildId", "fileId", "kind", "platform", "model", "clientIp", "distributionId", "linkId"})
	for {
		page, next, err := s.store.Installs(q, before, maxInstallPage)
		if err != nil {
			return err // after the header: the body ends short, which a reader notices
		}
		for _, i := range page {
			cw.Write([]string{i.Time.UTC().Format(time.RFC3339), csvText(i.Tester), i.BuildID, i.FileID, i.Kind, i.Platform, csvText(i.Model), i.ClientIP, i.DistributionID, i.LinkID})
		}
		if cw.Flush(); next == 0 || cw.Error() != nil {
			return nil
		}
		before = next
	}
}

// csvText keeps a cell from being read as a formula by a spreadsheet
// (=, +, -, @ at its start).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
