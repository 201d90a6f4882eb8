package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"hangar/store"
)

func TestAuditLogPagesAndFilters(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sunk []store.AuditEntry
	s := openTest(t, store.Options{Now: func() time.Time { return now }, AuditSink: func(e store.AuditEntry) { sunk = append(sunk, e) }})
	alice := store.Actor{Kind: store.ActorUser, ID: "u1", Name: "alice", ClientIP: "192.0.2.1"}
	ws1, err := s.As(alice).CreateWorkspace(store.Workspace{Slug: "one"})
	if err != nil {
		t.Fatal(err)
	}
	ws2, err := s.CreateWorkspace(store.Workspace{Slug: "two"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		now = now.Add(time.Minute)
		ws := ws1
		if i%2 == 1 {
			ws = ws2
		}
		if _, err := s.As(alice).CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "p" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	// A failed transaction leaves no entry.
	if _, err := s.As(alice).CreateProject(store.Project{WorkspaceID: ws1.ID, Slug: "pa"}); err == nil {
		t.Fatal("duplicate slug accepted")
	}

	all, next, err := s.AuditLog(store.AuditQuery{})
	if err != nil || next != "" || len(all) != 12 {
		t.Fatalf("all: %d entries, next %q, %v", len(all), next, err)
	}
	if len(sunk) != 12 {
		t.Errorf("sink got %d entries, want 12", len(sunk))
	}
	first := all[len(all)-1]
	if first.Action != store.AuditWorkspaceCreated || first.Actor.Name != "alice" || first.ClientIP != "192.0.2.1" || first.Target.Name != "one" {
		t.Errorf("oldest entry %+v", first)
	}
	if all[0].Target.Name != "pj" || all[1].Target.Name != "pi" {
		t.Errorf("not newest first: %s, %s", all[0].Target.Name, all[1].Target.Name)
	}
	if all[len(all)-2].Actor.Kind != store.ActorSystem {
		t.Errorf("the bare store recorded as %+v, want the system", all[len(all)-2].Actor)
	}

	// Pages of 3 of one workspace: 1 workspace + 5 projects.
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := s.AuditLog(store.AuditQuery{Workspace: ws1.ID, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.Target.Name)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if strings.Join(got, " ") != "pi pg pe pc pa one" {
		t.Errorf("workspace one's entries: %v", got)
	}

	for _, tt := range []struct {
		q    store.AuditQuery
		want int
	}{
		{store.AuditQuery{Actor: "alice"}, 11},
		{store.AuditQuery{Actor: "u1"}, 11},
		{store.AuditQuery{Actor: "system"}, 1},
		{store.AuditQuery{Action: "project."}, 10},
		{store.AuditQuery{Action: "project"}, 0},
		{store.AuditQuery{Action: store.AuditWorkspaceCreated}, 2},
		{store.AuditQuery{Since: time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)}, 6},
		{store.AuditQuery{Until: time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)}, 6},
		{store.AuditQuery{Workspace: ws2.ID, Action: "project."}, 5},
	} {
		page, _, err := s.AuditLog(tt.q)
		if err != nil || len(page) != tt.want {
			t.Errorf("%+v: %d entries, want %d (%v)", tt.q, len(page), tt.want, err)
		}
	}
	if _, _, err := s.AuditLog(store.AuditQuery{Cursor: "zz"}); err == nil {
		t.Error("a bad cursor was accepted")
	}

	// Retention: by count, then by age; the workspace index follows.
	if n, err := s.PruneAuditLog(0, 8, 1000); err != nil || n != 4 {
		t.Fatalf("prune to 8: removed %d, %v", n, err)
	}
	if n, err := s.PruneAuditLog(3*time.Minute, 0, 1000); err != nil || n != 4 {
		t.Fatalf("prune by age: removed %d, %v", n, err)
	}
	left, _, _ := s.AuditLog(store.AuditQuery{})
	ws1left, _, _ := s.AuditLog(store.AuditQuery{Workspace: ws1.ID})
	if len(left) != 4 || len(ws1left) != 2 {
		t.Errorf("after pruning: %d entries, %d of workspace one; want 4 and 2", len(left), len(ws1left))
	}
}

// No entry holds a secret: password hashes, token hashes, webhook URLs'
// paths (a chat service's credential).
func TestAuditLogKeepsNoSecret(t *testing.T) {
	s := openTest(t, store.Options{})
	ws, _ := s.CreateWorkspace(store.Workspace{Slug: "w"})
	p, _ := s.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "p"})
	u, err := s.CreateUser(store.User{Username: "bob", PasswordHash: "$argon2id$secret-hash"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(u.ID, "$argon2id$other-hash", true); err != nil {
		t.Fatal(err)
	}
	plain, _, err := s.CreateToken(store.Token{Kind: store.TokenApp, OwnerID: p.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := s.CreateWebhook(store.Webhook{WorkspaceID: ws.ID, URL: "https://hooks.slack.com/services/T0/B0/SECRETPATH", Events: store.EventTypes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateWebhook(wh.ID, func(w *store.Webhook) error {
		w.URL = "https://hooks.slack.com/services/T0/B0/NEWSECRET"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDistribution(store.Distribution{ProjectID: p.ID, Slug: "d", FilterType: store.FilterLatest, Security: store.SecurityPassword, PasswordHash: "$argon2id$dist-hash"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateDistribution(d.ID, func(d *store.Distribution) error { d.PasswordHash = "$argon2id$dist-hash-2"; return nil }); err != nil {
		t.Fatal(err)
	}
	all, _, _ := s.AuditLog(store.AuditQuery{})
	raw, _ := json.Marshal(all)
	for _, secret := range []string{"hash", plain, "SECRETPATH", "NEWSECRET", wh.Secret} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the audit log holds %q: %s", secret, raw)
		}
	}
	if !strings.Contains(string(raw), `"passwordHash":"changed"`) || !strings.Contains(string(raw), `"url":"changed"`) {
		t.Errorf("changes of secrets are not said: %s", raw)
	}
}

func TestAuditSigningKey(t *testing.T) {
	s := openTest(t, store.Options{})
	sk, err := s.As(store.Actor{Kind: store.ActorUser, ID: "u", Name: "root"}).RotateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := s.AuditLog(store.AuditQuery{Action: store.AuditSigningKeyRotated})
	if len(got) != 1 || got[0].Target.ID != sk.ID || got[0].Actor.Name != "root" {
		t.Fatalf("entries: %+v", got)
	}
	if strings.Contains(fmt.Sprint(got[0]), string(sk.Secret)) {
		t.Error("the entry holds the key")
	}
}

// Asking for a reset again replaces the pending link: a flood of requests
// cannot fill the table of links (and block invitations).
func TestOnePendingResetPerUser(t *testing.T) {
	s := openTest(t, store.Options{})
	u, err := s.CreateUser(store.User{Username: "ann", Email: "ann@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	var plains []string
	for range 5 {
		plain, _, err := s.CreateTicket(store.Ticket{Kind: store.TicketReset, UserID: u.ID, Email: u.Email}, nil)
		if err != nil {
			t.Fatal(err)
		}
		plains = append(plains, plain)
	}
	for i, p := range plains {
		_, err := s.TicketByPlain(p, store.TicketReset)
		if (i == len(plains)-1) != (err == nil) {
			t.Errorf("link %d: %v", i, err)
		}
	}
}

// Links issued before a change of a user's password, address or standing
// stop working with it: a sign-in half done with the old password, a
// reset mailed to the old address, anything of a disabled user.
func TestLinksEndWithTheirReason(t *testing.T) {
	s := openTest(t, store.Options{})
	u, err := s.CreateUser(store.User{Username: "ann", Email: "ann@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(kind string) string {
		t.Helper()
		plain, _, err := s.CreateTicket(store.Ticket{Kind: kind, UserID: u.ID, Email: u.Email}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return plain
	}
	alive := func(plain, kind string) bool { _, err := s.TicketByPlain(plain, kind); return err == nil }

	half, reset := issue(store.TicketSecondFactor), issue(store.TicketReset)
	if err := s.SetPassword(u.ID, "$argon2id$new", false); err != nil {
		t.Fatal(err)
	}
	if alive(half, store.TicketSecondFactor) || alive(reset, store.TicketReset) {
		t.Error("a password change left a half sign-in or a reset link working")
	}
	reset = issue(store.TicketReset)
	if _, err := s.SetEmail(u.ID, "ann@new.example.org"); err != nil {
		t.Fatal(err)
	}
	if alive(reset, store.TicketReset) {
		t.Error("a reset link to the old address works after the address changed")
	}
	reset, email := issue(store.TicketReset), issue(store.TicketEmail)
	if _, err := s.SetDisabled(u.ID, true); err != nil {
		t.Fatal(err)
	}
	if alive(reset, store.TicketReset) || alive(email, store.TicketEmail) {
		t.Error("a disabled user's links still work")
	}
}
