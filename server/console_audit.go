package server

import (
	"encoding/json"
	"net/http"
	"net/url"

	"hangar/store"
)

// The audit log in the console: the instance's (/audit, instance admins)
// or a workspace's (/w/{ws}/audit, its admins), newest first, filtered by
// actor, action and time, a page at a time, and exported whole as JSON
// lines. The API's query (auditQuery) and the store's AuditLog.

type auditPageView struct {
	Workspace *workspaceRow // nil: the instance's log
	Entries   []auditRow
	Filter    url.Values
	Older     string // the query of the next page, "" at the end
	Export    string // the export's address, with the filter
	Error     string
}

// auditRow is an entry as the page shows it.
type auditRow struct {
	store.AuditEntry
	Details string // as JSON
}

func (s *Server) auditConsolePage(w http.ResponseWriter, r *http.Request, c *call) error {
	base := "/audit"
	p := auditPageView{Filter: r.URL.Query()}
	if c.ws.ID != "" {
		base = "/w/" + c.ws.Slug + "/audit"
		p.Workspace = &workspaceRow{Slug: c.ws.Slug, Name: orText(c.ws.Name, c.ws.Slug)}
	}
	title := "Audit log"
	q, err := auditQuery(r)
	if err != nil {
		p.Error = sentence(err.(*apiError).Message)
		s.renderPage(w, r, http.StatusBadRequest, "audit", title, c, p)
		return nil
	}
	q.Workspace, q.Limit = c.ws.ID, 50
	entries, next, err := s.store.AuditLog(q)
	if err != nil {
		return err
	}
	for _, e := range entries {
		row := auditRow{AuditEntry: e}
		if len(e.Details) > 0 {
			b, _ := json.Marshal(e.Details)
			row.Details = string(b)
		}
		p.Entries = append(p.Entries, row)
	}
	export := url.Values{}
	for _, k := range []string{"actor", "action", "since", "until"} {
		if v := r.URL.Query().Get(k); v != "" {
			export.Set(k, v)
		}
	}
	p.Export = base + "/export?" + export.Encode()
	if next != "" {
		older := url.Values{}
		for k, v := range export {
			older[k] = v
		}
		older.Set("cursor", next)
		p.Older = base + "?" + older.Encode()
	}
	s.renderPage(w, r, http.StatusOK, "audit", title, c, p)
	return nil
}

// auditExport streams every entry the filter selects as JSON lines,
// newest first, a page at a time: memory stays flat however long the log.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := auditQuery(r)
	if err != nil {
		return err
	}
	q.Workspace, q.Limit = c.ws.ID, 1000
	name := "hangar-audit-" + s.now().UTC().Format("20060102-150405") + ".jsonl"
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Content-Disposition", contentDisposition(name))
	h.Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	for {
		entries, next, err := s.store.AuditLog(q)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return nil // the client went away
			}
		}
		rc.Flush()
		if next == "" || r.Context().Err() != nil {
			return nil
		}
		q.Cursor = next
	}
}
