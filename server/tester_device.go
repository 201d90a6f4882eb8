package server

import (
	"regexp"
	"strings"
	"unicode"

	"hangar/store"
)

// What an install record says of a device, from the User-Agent of the
// request that took the file: its platform, and its model when the agent
// names one. iOS's installer names it exactly ("model/iPhone16,2" in
// com.apple.appstored's agent); Safari says only iPhone or iPad; Android
// browsers name the model before " Build/" or ")".

// device is a device as an install record keeps it.
type device struct {
	Platform string `json:"platform"` // ios, android, macos, windows, linux, other
	Model    string `json:"model,omitempty"`
}

const maxModel = 64

var (
	iosModel     = regexp.MustCompile(`\bmodel/([A-Za-z]+[0-9]+,[0-9]+)`)
	androidModel = regexp.MustCompile(`Android [0-9.]+; (?:[a-zA-Z]{2}[-_][a-zA-Z]{2}; )?([^;)]+?)(?: Build/[^;)]*)?\)`)
)

// deviceOf reads a User-Agent.
func deviceOf(ua string) device {
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"), strings.Contains(ua, " iOS/"):
		d := device{Platform: "ios"}
		if m := iosModel.FindStringSubmatch(ua); m != nil {
			d.Model = m[1]
		} else {
			for _, name := range []string{"iPhone", "iPad", "iPod"} {
				if strings.Contains(ua, name) {
					d.Model = name
					break
				}
			}
		}
		return d
	case strings.Contains(ua, "Android"):
		d := device{Platform: "android"}
		if m := androidModel.FindStringSubmatch(ua); m != nil && m[1] != "K" { // Chrome's reduced agent says "K"
			d.Model = cleanModel(m[1])
		}
		return d
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return device{Platform: "macos"}
	case strings.Contains(ua, "Windows"):
		return device{Platform: "windows"}
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return device{Platform: "linux"}
	}
	return device{Platform: "other"}
}

// cleanModel keeps a model name printable and short.
func cleanModel(s string) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	return cut(s, maxModel)
}

// installOf is the install record of the counted download e logs, by
// member (see testerSite; "" unknown).
func (s *Server) installOf(e store.AccessLogEntry, member, kind string) *store.Install {
	d := deviceOf(e.UserAgent)
	return &store.Install{Time: e.Time, Tester: s.testerName(member), Kind: kind, Platform: d.Platform, Model: d.Model, ClientIP: e.ClientIP}
}

// testerName names who a page was shown to, for records: a tester's
// address, a member's username; "" for nobody known.
func (s *Server) testerName(member string) string {
	if member == "" {
		return ""
	}
	if id, ok := strings.CutPrefix(member, testerMember); ok {
		if sess, err := s.store.TesterSession(id); err == nil {
			return sess.Email
		}
		return ""
	}
	if u, err := s.store.User(member); err == nil {
		return u.Username
	}
	return ""
}
