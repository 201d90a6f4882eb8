package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"hangar/store"
)

// Notifications as mail: the jobs the store queues when a build becomes
// the one a distribution shows (store/notify.go) are turned into one mail
// per recipient here, in the background, each with a one-click
// unsubscribe (RFC 8058). They know no HTTP.

// maxNotesInMail bounds the release notes a notification carries.
const maxNotesInMail = 4000

// RunNotifications turns queued notifications into mail until ctx ends,
// looking every poll. Without [smtp] the jobs are dropped: nobody could
// be mailed.
func (s *Server) RunNotifications(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		s.notifyOnce()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// notifyOnce works through the jobs waiting now.
func (s *Server) notifyOnce() {
	for {
		keys, jobs, err := s.store.NotifyJobs(50)
		if err != nil {
			s.log.Error("notifications", "err", err)
			return
		}
		if len(keys) == 0 {
			return
		}
		for i, k := range keys {
			if s.mail == nil {
				if err := s.store.DropNotifyJob(k); err != nil {
					s.log.Error("notifications", "err", err)
					return
				}
				continue
			}
			res, err := s.store.RunNotifyJob(k, s.cfg.Testers.NotifyPerHour, s.composeNotice)
			if err != nil {
				s.log.Error("notification", "build", jobs[i].BuildID, "err", err)
				return
			}
			if res.OverCap > 0 || res.Dropped > 0 {
				s.log.Warn("notification mails held back", "workspace", jobs[i].WorkspaceID, "build", jobs[i].BuildID,
					"over_hourly_cap", res.OverCap, "dropped_by_outbox", res.Dropped)
			}
		}
		s.wakeMail()
	}
}

// composeNotice is the mail telling to that a build is ready.
func (s *Server) composeNotice(n store.Notice, to string) store.Mail {
	base := s.cfg.PublicURL
	app := orText(n.Build.AppName, orText(n.Project.Name, n.Project.Slug))
	version := versionLine(n.Build.VersionName, n.Build.VersionCode)
	w := mailWords{Greeting: "Hello,", Notes: cut(n.Build.Notes, maxNotesInMail)}
	var subject, scope string
	switch n.Job.Kind {
	case store.NotifyTesters:
		d := n.Distribution
		scope = d.ID
		subject = app + " " + strings.TrimPrefix(version, "Version ") + " is ready to install"
		w.Lines = []string{"A new build of " + app + " is ready for you on " + orText(d.Name, d.Slug) + "."}
		w.Action, w.URL = "Open the install page", base+"/d/"+n.Workspace.Slug+"/"+d.Slug
		w.After = []string{"You get this mail because you are a tester of " + orText(n.Workspace.Name, n.Workspace.Slug) + " on this page. Open the page on the phone or tablet to install."}
	default:
		scope = "w:" + n.Workspace.ID
		subject = "New build of " + app + ": " + strings.TrimPrefix(version, "Version ")
		w.Lines = []string{"A new build of " + app + " was uploaded to " + orText(n.Workspace.Name, n.Workspace.Slug) + "."}
		w.Action, w.URL = "Open the build", base+"/w/"+n.Workspace.Slug+"/p/"+n.Project.Slug+"/b/"+n.Build.ID
		w.After = []string{"You get this mail because you are a member of " + orText(n.Workspace.Name, n.Workspace.Slug) + " and the upload asked to tell the team."}
	}
	if version != "" {
		w.Lines = append(w.Lines, version+".")
	}
	if m := strings.TrimSpace(n.Job.Message); m != "" {
		w.Lines = append(w.Lines, "Message from the uploader: "+m)
	}
	w.Unsubscribe = base + "/t/unsubscribe/" + s.optOutToken(scope, store.AddressDigest(to))
	return composeMail(to, strings.TrimSuffix(subject, " "), w)
}

// optOutToken names a scope (a distribution, a workspace's members) and
// an address (by digest) with an HMAC: an unsubscribe link that needs no
// storage and names nobody in the clear.
func (s *Server) optOutToken(scope, digest string) string {
	body := scope + "." + digest
	m := hmac.New(sha256.New, s.optOutKey)
	m.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// readOptOutToken checks a token and returns its scope and digest.
func (s *Server) readOptOutToken(token string) (scope, digest string, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", "", false
	}
	scope, digest, ok = strings.Cut(token[:i], ".")
	if !ok || !hmac.Equal([]byte(s.optOutToken(scope, digest)), []byte(token)) {
		return "", "", false
	}
	return scope, digest, true
}
