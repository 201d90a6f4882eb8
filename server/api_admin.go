package server

import (
	"net/http"

	"hangar/backup"
	"hangar/fsck"
	"hangar/store"
)

// Instance-admin endpoints for what a running server must do itself, since
// bbolt lets only one process open the database: backup, fsck, gc. The
// `hangar backup|fsck|gc` commands call them when the server is running.

// adminBackup streams a consistent backup as a tar file.
func (s *Server) adminBackup(w http.ResponseWriter, r *http.Request, c *call) error {
	h := w.Header()
	h.Set("Content-Type", "application/x-tar")
	h.Set("Content-Disposition", contentDisposition("hangar-backup-"+s.now().UTC().Format("20060102-150405")+".tar"))
	h.Set("Cache-Control", "no-store")
	if err := backup.Write(w, s.depot); err != nil {
		// The status is sent; the client must see a broken stream, not a
		// short tar that looks complete.
		s.log.Error("backup failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	s.log.Info("backup sent", "client", s.clientIP(r).String())
	if err := c.st().Record(store.AuditBackupTaken, store.AuditTarget{Kind: "instance"}, "", nil); err != nil {
		s.log.Error("audit log", "err", err)
	}
	return nil
}

type fsckRequest struct {
	Verify bool `json:"verify"`
	Repair bool `json:"repair"`
	Force  bool `json:"force"`
}

type fsckResponse struct {
	Files    int            `json:"files"`
	Blobs    int            `json:"blobs"`
	Problems int            `json:"problems"`
	Findings []fsck.Finding `json:"findings"`
	// PagesChecked is false: a running server's database cannot have its
	// pages walked (see fsck.Options.Live).
	PagesChecked bool     `json:"pagesChecked"`
	Warnings     []string `json:"warnings,omitempty"` // certificates near expiry
}

// adminFsck runs fsck inside the running server. Repairs are safe against
// uploads in flight: orphans are removed under the blob lock, after
// checking again that nothing refers to them.
func (s *Server) adminFsck(w http.ResponseWriter, r *http.Request, c *call) error {
	var req fsckRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	rep, err := fsck.Run(s.depot, fsck.Options{Verify: req.Verify, Repair: req.Repair, Force: req.Force, Live: true})
	if err != nil {
		return err
	}
	for _, f := range rep.Findings {
		if f.Repaired {
			s.log.Warn("fsck repaired", "finding", f.Message)
		}
	}
	if rep.Findings == nil {
		rep.Findings = []fsck.Finding{}
	}
	writeJSON(w, http.StatusOK, fsckResponse{Files: rep.Files, Blobs: rep.Blobs, Problems: rep.Problems(), Findings: rep.Findings, PagesChecked: rep.PagesChecked, Warnings: rep.Warnings})
	return nil
}

// adminGC removes expired tokens and old access log entries.
func (s *Server) adminGC(w http.ResponseWriter, r *http.Request, c *call) error {
	res, err := s.depot.GC()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gcView{DownloadTokens: res.DownloadTokens, Sessions: res.Sessions, AccessLog: res.AccessLog, AuditLog: res.AuditLog})
	return nil
}

// gcView is what a collection removed.
type gcView struct {
	DownloadTokens int `json:"downloadTokens"`
	Sessions       int `json:"sessions"`
	AccessLog      int `json:"accessLogEntries"`
	AuditLog       int `json:"auditLogEntries"`
}
