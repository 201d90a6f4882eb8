package webhook_test

import (
	"strings"
	"testing"

	"hangar/store"
	"hangar/webhook"
)

// Uploader-controlled values cannot add markup to a chat message. Issue
// 27, item 6: an app named "Demo> <https://x/phish|Click here" made a
// second clickable link in Slack.
func TestTextEscapesValues(t *testing.T) {
	hostile := "Demo> <https://x/phish|Click here"
	p := webhook.Payload{Type: store.EventBuildProcessed,
		Workspace: webhook.Named{Slug: "acme"}, Project: webhook.Named{Slug: "app"},
		Build: &webhook.BuildPayload{AppName: hostile, Version: "1.0 [Click](https://x/md)", URL: "https://hangar.example/w/acme/p/app/b/1"}}
	got := webhook.Text(p)
	// One link: the build's own, whole, and nothing else opens one.
	if n := strings.Count(got, "<"); n != 1 {
		t.Fatalf("%d links in %q, want 1", n, got)
	}
	if !strings.HasPrefix(got, "Build <https://hangar.example/w/acme/p/app/b/1|Demo&gt; &lt;https://x/phishClick here 1.0 [Click]\u200b(https://x/md)>") {
		t.Errorf("text: %q", got)
	}
	if strings.Count(got, "|") != 1 || strings.Contains(got, "](") {
		t.Errorf("a label can end its link early or a Markdown link survives: %q", got)
	}

	p = webhook.Payload{Type: store.EventBuildFailed, Workspace: webhook.Named{Slug: "acme"}, Project: webhook.Named{Slug: "app"},
		Build: &webhook.BuildPayload{AppName: "App", URL: "https://h/b", Error: "bad\n<!channel> & co"}}
	got = webhook.Text(p)
	if strings.Contains(got, "\n") || strings.Contains(got, "<!channel>") || !strings.Contains(got, "&lt;!channel&gt; &amp; co") {
		t.Errorf("error text: %q", got)
	}

	p = webhook.Payload{Type: store.EventLinkCreated, Workspace: webhook.Named{Slug: "acme"}, Project: webhook.Named{Slug: "app"},
		Link: &webhook.LinkPayload{FileName: "a|b<c>.ipa", InstallURL: "https://h/p/1"}}
	if got = webhook.Text(p); got != "New link to a|b&lt;c&gt;.ipa (acme/app): <https://h/p/1|install page>" {
		t.Errorf("link text: %q", got)
	}
}
