package server

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"hangar/mail"
	"hangar/store"
)

// Tester groups as the API and the console share them: who a workspace
// distributes to, by address. They know no HTTP. Developers manage them
// too: who may make a page for testers (BUILD_CREATE_LINKS) chooses who
// is on it.

type testerGroupView struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Members   []string  `json:"members"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func viewTesterGroup(g store.TesterGroup) testerGroupView {
	return testerGroupView{ID: g.ID, Slug: g.Slug, Name: g.Name, Members: g.Members, CreatedAt: g.CreatedAt, CreatedBy: g.CreatedBy, UpdatedAt: g.UpdatedAt}
}

type testerGroupRequest struct {
	Slug    string   `json:"slug"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
	Add     []string `json:"add"`
	Remove  []string `json:"remove"`
}

// checkAddresses validates addresses, naming the first bad one.
func checkAddresses(addrs []string) ([]string, error) {
	out := make([]string, 0, len(addrs))
	for i, a := range addrs {
		v, err := mail.ValidAddress(strings.TrimSpace(a))
		if err != nil {
			return nil, errBadRequest(fmt.Sprintf("member %d is not one e-mail address (name@example.com)", i+1))
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Server) newTesterGroup(c *call, req testerGroupRequest) (store.TesterGroup, error) {
	if !store.ValidSlug(req.Slug) {
		return store.TesterGroup{}, errBadSlug
	}
	members, err := checkAddresses(req.Members)
	if err != nil {
		return store.TesterGroup{}, err
	}
	return c.st().CreateTesterGroup(store.TesterGroup{WorkspaceID: c.ws.ID, Slug: req.Slug, Name: strings.TrimSpace(req.Name), Members: members, CreatedBy: c.who.name})
}

func (s *Server) changeTesterGroup(c *call, g store.TesterGroup, req testerGroupRequest) (store.TesterGroup, error) {
	add, err := checkAddresses(req.Add)
	if err != nil {
		return g, err
	}
	remove := make([]string, len(req.Remove))
	for i, r := range req.Remove {
		remove[i] = strings.TrimSpace(r) // removing needs no valid address: any listed one goes
	}
	return c.st().UpdateTesterGroup(g.ID, strings.TrimSpace(req.Name), add, remove)
}

// maxCSVLines bounds an import: a group's members and a little more
// (headers, blank lines).
const maxCSVLines = store.MaxGroupMembers + 100

// readAddressesCSV reads a CSV of addresses: the first field of each row
// (a header row whose first field is not an address is skipped; blank
// rows are). Any malformed row refuses the whole import, naming its line.
func readAddressesCSV(r io.Reader) ([]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []string
	var bad []string
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad = append(bad, fmt.Sprintf("line %d: not CSV", pe.Line))
			break
		}
		if err != nil {
			return nil, err
		}
		if line > maxCSVLines {
			return nil, errBadRequest(fmt.Sprintf("at most %d lines", maxCSVLines))
		}
		field := strings.TrimSpace(rec[0])
		if field == "" {
			continue
		}
		addr, err := mail.ValidAddress(field)
		if err != nil {
			if line == 1 && !strings.Contains(field, "@") {
				continue // a header: "email", "Address"
			}
			if len(bad) < 10 {
				bad = append(bad, fmt.Sprintf("line %d", line))
			}
			continue
		}
		out = append(out, addr)
	}
	if len(bad) > 0 {
		return nil, errBadRequest("not an e-mail address on " + strings.Join(bad, ", ") + "; nothing was imported")
	}
	return out, nil
}

// signOutTester ends a tester's sessions for the request's workspace (or
// the instance, when the call names none): every page and signed URL they
// were given stops opening at once.
func (s *Server) signOutTester(c *call, addr string) error {
	addr, err := mail.ValidAddress(strings.TrimSpace(addr))
	if err != nil {
		return errBadRequest("email must be one e-mail address (name@example.com)")
	}
	return c.st().SignOutTester(c.ws.ID, addr, s.cfg.Testers.SessionTTL)
}
