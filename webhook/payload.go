package webhook

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"hangar/store"
)

// Payload is the JSON body of a delivery in the json format (see the
// docs/ci.md's "Webhooks" for the schema).
type Payload struct {
	ID           string               `json:"id"`
	Type         string               `json:"type"`
	Time         time.Time            `json:"time"`
	Workspace    Named                `json:"workspace"`
	Project      Named                `json:"project"`
	Build        *BuildPayload        `json:"build,omitempty"`
	Link         *LinkPayload         `json:"link,omitempty"`
	Distribution *DistributionPayload `json:"distribution,omitempty"`
	Notify       *NotifyPayload       `json:"notify,omitempty"`
	Feedback     *FeedbackPayload     `json:"feedback,omitempty"`
}

// FeedbackPayload is a tester's report, in feedback.received: its text,
// who sent it, and its screenshots' file IDs (the build's page shows
// them).
type FeedbackPayload struct {
	ID          string   `json:"id"`
	Tester      string   `json:"tester"`
	Text        string   `json:"text"`
	Screenshots []string `json:"screenshots"`
	Device      string   `json:"device,omitempty"`
}

// NotifyPayload is what an upload asked to tell people (Applivery's
// notify fields), in build.created.
type NotifyPayload struct {
	Collaborators bool   `json:"collaborators,omitempty"`
	Employees     bool   `json:"employees,omitempty"`
	Message       string `json:"message,omitempty"`
}

// Named is a workspace or project.
type Named struct {
	ID   string `json:"id"`
	Slug string `json:"slug,omitempty"`
	Name string `json:"name,omitempty"`
}

// BuildPayload is a build as an event carries it.
type BuildPayload struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Version     string    `json:"version,omitempty"`
	BuildNumber string    `json:"buildNumber,omitempty"`
	AppName     string    `json:"appName,omitempty"`
	BundleID    string    `json:"bundleId,omitempty"`
	Platform    string    `json:"platform,omitempty"` // ios, android, …
	GitBranch   string    `json:"gitBranch,omitempty"`
	GitCommit   string    `json:"gitCommit,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	Notes       string    `json:"notes,omitempty"`
	Error       string    `json:"error,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	URL         string    `json:"url"` // its console page
}

// LinkPayload is a public link as an event carries it.
type LinkPayload struct {
	ID            string     `json:"id"`
	FileID        string     `json:"fileId"`
	FileName      string     `json:"fileName"`
	DownloadLimit int64      `json:"downloadLimit"`
	AccessCount   int64      `json:"accessCount"`
	Expires       *time.Time `json:"expirationDate,omitempty"`
	PublicURL     string     `json:"publicUrl"`
	InstallURL    string     `json:"installUrl"`
}

// DistributionPayload is a distribution as an event carries it.
type DistributionPayload struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name,omitempty"`
	URL  string `json:"url"`
}

// NewPayload renders the payload of an event: the workspace and project as they
// are now (their IDs if gone), the build, link and distribution as they
// were, with URLs under base.
func NewPayload(st *store.Store, base string, ev store.Event) Payload {
	p := Payload{ID: ev.ID, Type: ev.Type, Time: ev.Time, Workspace: Named{ID: ev.WorkspaceID}, Project: Named{ID: ev.ProjectID}}
	if n := ev.Notify; n != nil {
		p.Notify = &NotifyPayload{Collaborators: n.Collaborators, Employees: n.Employees, Message: n.Message}
	}
	if ws, err := st.Workspace(ev.WorkspaceID); err == nil {
		p.Workspace = Named{ID: ws.ID, Slug: ws.Slug, Name: cmp.Or(ws.Name, ws.Slug)}
	}
	if pr, err := st.Project(ev.ProjectID); err == nil {
		p.Project = Named{ID: pr.ID, Slug: pr.Slug, Name: cmp.Or(pr.Name, pr.Slug)}
	}
	if b := ev.Build; b != nil {
		p.Build = &BuildPayload{ID: b.ID, Status: b.Status, Version: b.VersionName, BuildNumber: b.VersionCode, AppName: b.AppName,
			BundleID: b.BundleID, Platform: cmp.Or(b.OS, b.BuildPlatform), GitBranch: b.GitBranch(), Tags: b.Tags, Notes: b.Notes,
			Error: b.ProcessingError, CreatedAt: b.CreatedAt, CreatedBy: b.CreatedBy,
			URL: base + "/w/" + p.Workspace.Slug + "/p/" + p.Project.Slug + "/b/" + b.ID}
		if b.Deployer != nil {
			p.Build.GitCommit = b.Deployer.Info.Commit
		}
	}
	if l := ev.Link; l != nil {
		p.Link = &LinkPayload{ID: l.ID, FileID: l.FileID, FileName: l.FileName, DownloadLimit: l.DownloadLimit, AccessCount: l.AccessCount,
			PublicURL:  base + "/api/v1/public/file/" + l.ID + "/" + url.PathEscape(l.FileName),
			InstallURL: base + "/p/" + l.ID}
		if !l.IsPermanent && !l.ExpirationDate.IsZero() {
			t := l.ExpirationDate
			p.Link.Expires = &t
		}
	}
	if d := ev.Distribution; d != nil {
		p.Distribution = &DistributionPayload{ID: d.ID, Slug: d.Slug, Name: d.Name, URL: base + "/d/" + p.Workspace.Slug + "/" + d.Slug}
	}
	if f := ev.Feedback; f != nil {
		p.Feedback = &FeedbackPayload{ID: f.ID, Tester: f.Tester, Text: f.Text, Screenshots: append([]string{}, f.FileIDs...),
			Device: strings.TrimSpace(f.Platform + " " + f.Model)}
	}
	return p
}

// render is a delivery's body in the webhook's format.
func (d *Deliverer) render(w store.Webhook, ev store.Event) ([]byte, error) {
	p := NewPayload(d.o.Store, d.o.BaseURL, ev)
	if w.Format == store.FormatSlack {
		return json.Marshal(map[string]string{"text": Text(p)})
	}
	return json.Marshal(p)
}

// Text is the one-line message of the slack format: Slack's and
// Mattermost's incoming webhooks read "text" (Markdown with <url|label>
// links), Teams' too. Every value in it may come from an uploader (an
// app's name is read from the package), so each goes through chatText
// (and a link's label through chatLabel): no value can make a link, a
// mention or a line of its own.
func Text(p Payload) string {
	where := chatText(p.Workspace.Slug + "/" + p.Project.Slug)
	var what string
	if b := p.Build; b != nil {
		what = cmp.Or(b.AppName, p.Project.Name)
		if v := strings.TrimSpace(b.Version + " " + paren(b.BuildNumber, b.Version)); v != "" {
			what += " " + v
		}
		what = chatLink(b.URL, what)
	}
	switch p.Type {
	case store.EventBuildCreated:
		return fmt.Sprintf("New build %s uploaded to %s", what, where)
	case store.EventBuildProcessed:
		return fmt.Sprintf("Build %s of %s is ready", what, where)
	case store.EventBuildFailed:
		return fmt.Sprintf("Build %s of %s could not be processed: %s", what, where, chatText(p.Build.Error))
	case store.EventBuildDeleted:
		return fmt.Sprintf("Build %s of %s was deleted", what, where)
	case store.EventLinkCreated:
		return fmt.Sprintf("New link to %s (%s): %s", chatText(p.Link.FileName), where, chatLink(p.Link.InstallURL, "install page"))
	case store.EventLinkLimitReached:
		return fmt.Sprintf("The link to %s (%s) reached its %d downloads", chatText(p.Link.FileName), where, p.Link.DownloadLimit)
	case store.EventDistributionUpdated:
		return fmt.Sprintf("%s now offers %s", chatLink(p.Distribution.URL, cmp.Or(p.Distribution.Name, p.Distribution.Slug)), what)
	case store.EventFeedbackReceived:
		// The tester is not named in a chat channel; the build's page does.
		text := p.Feedback.Text
		if r := []rune(text); len(r) > 200 {
			text = string(r[:200]) + "…"
		}
		return fmt.Sprintf("Feedback on %s (%s, %d screenshots): %s", what, where, len(p.Feedback.Screenshots), chatText(text))
	}
	return chatText(p.Type) + " in " + where
}

// chatText makes a value plain text in Slack's, Mattermost's and Teams'
// message markup: &, < and > escaped as Slack's reference says (so
// "<https://x|Click>" or "<!channel>" stays text), "](" broken with a
// zero-width space (so Markdown's [label](url), which Mattermost and Teams
// render, stays text), and control characters (line breaks) made spaces.
func chatText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '(' && i > 0 && s[i-1] == ']':
			b.WriteString("\u200b(")
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// chatLink is a <url|label> link whose label cannot end it early (no |)
// and whose URL, Hangar's own, is escaped as text is.
func chatLink(u, label string) string {
	return "<" + chatText(u) + "|" + strings.ReplaceAll(chatText(label), "|", "") + ">"
}

func paren(code, version string) string {
	if code == "" || code == version {
		return ""
	}
	return "(" + code + ")"
}
