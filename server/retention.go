package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"hangar/store"
)

// Build deletion and retention. The API's DELETE of a build and the
// retention job share deleteBuild.

// deleteBuild deletes a build with its files in one transaction, then the
// blobs no other file uses.
func (s *Server) deleteBuild(id string) error {
	_, unused, err := s.store.DeleteBuild(id)
	if err != nil {
		return err
	}
	s.removeBlobs(unused...)
	return nil
}

// deleteBuildHandler is DELETE …/build/{buildId}: the build, its files, and
// their links (deactivated) go; storage usage drops.
func (s *Server) deleteBuildHandler(w http.ResponseWriter, r *http.Request, c *call) {
	b, err := s.projectBuild(c, c.params.ByName("buildId"))
	if err == nil {
		err = notFoundAs(s.deleteBuild(b.ID), "build")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("build deleted", "build", b.ID, "project", c.proj.Slug, "by", c.who.name)
	w.WriteHeader(http.StatusNoContent)
}

type retentionJSON struct {
	KeepBuilds int    `json:"keepBuilds"`
	MaxAge     string `json:"maxAge"` // a Go duration: "720h"
}

type updateProjectRequest struct {
	Name      *string `json:"name"`
	Platform  *string `json:"platform"`
	Retention *struct {
		retentionJSON
		Clear bool `json:"clear"` // back to the configured defaults
	} `json:"retention"`
}

// updateProject changes a project's name, platform or build retention.
func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, c *call) {
	var req updateProjectRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	var ret *store.Retention
	if req.Retention != nil && !req.Retention.Clear {
		age, err := time.ParseDuration(orZero(req.Retention.MaxAge))
		if err != nil || age < 0 || req.Retention.KeepBuilds < 0 {
			s.fail(w, r, errBadRequest(`retention needs keepBuilds >= 0 and maxAge a duration such as "720h" ("0s": any age)`))
			return
		}
		ret = &store.Retention{KeepBuilds: req.Retention.KeepBuilds, MaxAgeSeconds: int64(age / time.Second)}
	}
	p, err := s.store.UpdateProject(c.proj.ID, func(p *store.Project) error {
		if req.Name != nil {
			p.Name = *req.Name
		}
		if req.Platform != nil {
			p.Platform = *req.Platform
		}
		if req.Retention != nil {
			p.Retention = ret
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewProject(p))
}

func orZero(d string) string {
	if d == "" {
		return "0s"
	}
	return d
}

// ApplyRetention deletes, in every project, the builds its retention (or
// the configured default) no longer keeps, and returns how many it deleted.
// Builds still being uploaded or processed are left alone.
func (s *Server) ApplyRetention() (int, error) {
	projects, err := s.store.AllProjects()
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, p := range projects {
		keep, maxAge := s.cfg.KeepBuilds, s.cfg.MaxBuildAge
		if p.Retention != nil {
			keep, maxAge = p.Retention.KeepBuilds, time.Duration(p.Retention.MaxAgeSeconds)*time.Second
		}
		if keep == 0 && maxAge == 0 {
			continue
		}
		builds, err := s.store.Builds(p.ID, 0, 0) // newest first
		if err != nil {
			return deleted, err
		}
		for i, b := range builds {
			tooMany := keep > 0 && i >= keep
			tooOld := maxAge > 0 && s.now().Sub(b.CreatedAt) > maxAge
			if !tooMany && !tooOld || b.Status == store.BuildPending || b.Status == store.BuildInProgress {
				continue
			}
			if err := s.deleteBuild(b.ID); err != nil {
				return deleted, fmt.Errorf("retention: delete build %s: %w", b.ID, err)
			}
			deleted++
			s.log.Info("retention deleted a build", "project", p.Slug, "build", b.ID, "version", b.VersionName,
				"created", b.CreatedAt, "keep_builds", keep, "max_age", maxAge)
		}
	}
	return deleted, nil
}

// housekeeping runs retention and gc at start and then every interval,
// until ctx is done.
func (s *Server) housekeeping(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.ApplyRetention(); err != nil {
			s.log.Error("retention", "err", err)
		}
		if _, err := s.GC(); err != nil {
			s.log.Error("gc", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
