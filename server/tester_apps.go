package server

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"hangar/depot"
	"hangar/store"
)

// The page of my apps, /apps: every distribution the signed-in tester (a
// tester session) or member (a console session) may install from, newest
// build first, each with the install flow of the device in hand, as App
// Center's install portal has it. Signed out, it asks for an address and
// mails a sign-in link if the address is on any page's list (the same
// answer either way).

// maxApps bounds the page.
const maxApps = 100

type appItem struct {
	Page    string // the distribution's page
	Name    string // the distribution's name
	Build   *testerBuild
	Created time.Time
}

// appsPage lists what the visitor may install.
func (s *Server) appsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	var (
		user *store.User
		sess store.TesterSession
		who  string
	)
	if p, err := s.authenticate(r, true); err == nil && p.kind == store.TokenSession {
		u, err := s.store.User(p.id)
		if err == nil && !u.Disabled {
			user, who = &u, u.Username
		}
	}
	if user == nil {
		var ok bool
		if sess, ok = s.testerSession(r); !ok {
			return s.appsForm(w, r, http.StatusOK, testerSignInView{})
		}
		who = sess.Email
	}
	items, err := s.appsOf(c, r, user, sess)
	if err != nil {
		return err
	}
	tester := who
	if user != nil {
		tester = "" // a member signs out in the console
	}
	return s.renderTester(w, r, testerView{Title: "Your apps", Apps: items, AppsOf: who, Tester: tester, Platform: platformOf(r.UserAgent())})
}

// appsOf finds the distributions the visitor may open, and each one's
// newest build for the device.
func (s *Server) appsOf(c *call, r *http.Request, user *store.User, sess store.TesterSession) ([]appItem, error) {
	email, member := sess.Email, testerMember+sess.ID
	workspaces := map[string]bool{}
	if user != nil {
		email, member = user.Email, user.ID
		for ws := range user.Memberships {
			workspaces[ws] = true
		}
		if user.Admin {
			all, err := s.store.Workspaces()
			if err != nil {
				return nil, err
			}
			for _, ws := range all {
				workspaces[ws.ID] = true
			}
		}
	}
	if email != "" {
		groups, err := s.store.TesterGroupsOf(email)
		if err != nil {
			return nil, err
		}
		for ws := range groups {
			workspaces[ws] = true
		}
	}
	p := platformOf(r.UserAgent())
	var items []appItem
	for wsID := range workspaces {
		ws, err := s.store.Workspace(wsID)
		if err != nil {
			continue
		}
		dists, err := s.store.Distributions(wsID, "")
		if err != nil {
			return nil, err
		}
		for _, d := range dists {
			if d.Inactive() || d.Security == store.SecurityPassword || len(items) == maxApps {
				continue
			}
			t := distSite(c.base, ws, d)
			if d.Security == store.SecurityPublic {
				// A public page is "mine" when it is for my groups, or my team's.
				if user == nil || !s.mayDownloadIn(user.ID, wsID) {
					if !s.store.InTesterGroups(email, wsID, d.Groups) {
						continue
					}
				}
			} else if !s.mayOpen(t, member) {
				continue
			}
			t.member = member
			if d.Security == store.SecurityPublic {
				t.member = ""
			}
			builds, err := s.shownBuilds(d)
			if err != nil {
				return nil, err
			}
			it := appItem{Page: t.url(t.page), Name: orText(d.Name, d.Slug)}
			if len(builds) > 0 {
				bf := builds[0]
				if f, ok := depot.FileOfType(bf.Files, store.FilePackage); ok {
					it.Build, it.Created = s.testerBuild(t, bf.Build, f, bf.Files, p, isHTTPS(c.base)), f.CreatedAt
				}
			}
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b appItem) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(a.Name, b.Name))
	})
	return items, nil
}

// askAppsLink takes /apps' form: a sign-in link for an address that is on
// any page's list, back to /apps.
func (s *Server) askAppsLink(w http.ResponseWriter, r *http.Request, c *call) error {
	form := func(status int, v testerSignInView) error { return s.appsForm(w, r, status, v) }
	return s.takeLinkForm(w, r, form, func(addr string) {
		s.sendTesterLink(c, c.base, addr, "/apps", "your test builds", func() bool {
			groups, err := s.store.TesterGroupsOf(addr)
			return err == nil && len(groups) > 0
		})
	})
}

// appsForm is /apps signed out: the form for an address.
func (s *Server) appsForm(w http.ResponseWriter, r *http.Request, status int, v testerSignInView) error {
	v.Action, v.NoMail, v.MemberSignIn = "/apps/signin", s.mail == nil, "/signin?next=%2Fapps"
	return s.renderTester(w, r, testerView{Status: status, Title: "Your apps", TesterSignIn: &v})
}
