package store_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"hangar/store"
)

// A sign-in link opens the pages whose groups hold the address, once;
// removal from the group, the group's deletion, and the workspace's
// sign-out each end it at once, and gc forgets what expired.
func TestTesterSessions(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := openTest(t, store.Options{Now: clock})
	ws, p, _ := fixture(t, s, 0)
	g, err := s.CreateTesterGroup(store.TesterGroup{WorkspaceID: ws.ID, Slug: "qa", Members: []string{"Ana@Example.com", "bo@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDistribution(store.Distribution{ProjectID: p.ID, Slug: "beta", FilterType: store.FilterLatest, Security: store.SecurityTesters, Groups: []string{"qa"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDistribution(store.Distribution{ProjectID: p.ID, Slug: "x", FilterType: store.FilterLatest, Security: store.SecurityTesters, Groups: []string{"nope"}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a distribution for a group that does not exist: %v", err)
	}

	var sent []store.Mail
	link := func(addr string) string {
		t.Helper()
		var plain string
		err := s.CreateTesterLink(addr, "/d/acme/beta", func(p string) store.Mail {
			plain = p
			m := store.Mail{To: addr, Subject: "Sign in", Text: p}
			sent = append(sent, m)
			return m
		})
		if err != nil {
			t.Fatal(err)
		}
		return plain
	}
	first := link("ana@example.com")
	second := link("ana@example.com") // replaces the first
	if _, _, _, err := s.UseTesterLink(first, time.Hour); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("a replaced link: %v", err)
	}
	sess, token, next, err := s.UseTesterLink(second, 30*24*time.Hour)
	if err != nil || next != "/d/acme/beta" || !strings.HasPrefix(token, store.TesterSessionPrefix) {
		t.Fatalf("use: %v %q %q", err, next, token)
	}
	if _, _, _, err := s.UseTesterLink(second, time.Hour); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("a link used twice: %v", err)
	}
	got, err := s.TesterSessionByToken(token)
	if err != nil || got.ID != sess.ID || got.Email != "ana@example.com" {
		t.Fatalf("session by token: %+v %v", got, err)
	}
	other := "A" // a secret one character off (the last one was not A)
	if strings.HasSuffix(token, "A") {
		other = "B"
	}
	for _, bad := range []string{token[:len(token)-1] + other, store.TesterSessionPrefix + sess.ID + ".", "hgr_" + token[4:], ""} {
		if _, err := s.TesterSessionByToken(bad); !errors.Is(err, store.ErrTokenExpired) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	if !s.TesterMayOpen(sess, ws.ID, d.Groups) {
		t.Fatal("a member of the group is refused")
	}
	if s.TesterMayOpen(sess, ws.ID, []string{"other"}) || s.TesterMayOpen(sess, "elsewhere", d.Groups) {
		t.Fatal("a tester opens a page of another group or workspace")
	}

	// Removed from the group: out at once; added back: in again.
	if _, err := s.UpdateTesterGroup(g.ID, "", nil, []string{"ana@example.com"}); err != nil {
		t.Fatal(err)
	}
	if s.TesterMayOpen(sess, ws.ID, d.Groups) {
		t.Fatal("a tester removed from the group still opens its page")
	}
	if _, err := s.UpdateTesterGroup(g.ID, "", []string{"ana@example.com"}, nil); err != nil {
		t.Fatal(err)
	}
	if !s.TesterMayOpen(sess, ws.ID, d.Groups) {
		t.Fatal("added back, refused")
	}
	if gs, _ := s.TesterGroupsOf("ANA@example.com"); len(gs[ws.ID]) != 1 || gs[ws.ID][0] != "qa" {
		t.Fatalf("groups of the address: %v", gs)
	}

	// The workspace signs the tester out: this session is out, and so is
	// the link she had asked for before; a new one is in.
	advance(time.Minute)
	pendingBefore := link("ana@example.com")
	if err := s.SignOutTester(ws.ID, "ana@example.com", 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.UseTesterLink(pendingBefore, time.Hour); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("a link asked for before the sign-out, spent after it: %v", err)
	}
	if s.TesterMayOpen(sess, ws.ID, d.Groups) {
		t.Fatal("signed out, still in")
	}
	advance(time.Second)
	sess2, token2, _, err := s.UseTesterLink(link("ana@example.com"), time.Hour)
	if err != nil || !s.TesterMayOpen(sess2, ws.ID, d.Groups) {
		t.Fatalf("a session made after the sign-out: %v", err)
	}

	// Deleting the group takes it off the distribution.
	if err := s.DeleteTesterGroup(g.ID); err != nil {
		t.Fatal(err)
	}
	d, _ = s.Distribution(d.ID)
	if len(d.Groups) != 0 || s.TesterMayOpen(sess2, ws.ID, []string{"qa"}) {
		t.Fatalf("after the group's deletion: groups %v", d.Groups)
	}
	if gs, _ := s.TesterGroupsOf("ana@example.com"); len(gs) != 0 {
		t.Fatalf("index after deletion: %v", gs)
	}

	// Instance-wide sign-out ends the sessions themselves.
	if err := s.SignOutTester("", "ana@example.com", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TesterSessionByToken(token2); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("after the instance's sign-out: %v", err)
	}

	// Expiry, and gc.
	pending := link("bo@example.com")
	_, token3, _, err := s.UseTesterLink(link("ana@example.com"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	advance(31 * 24 * time.Hour)
	if _, err := s.TesterSessionByToken(token3); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("an expired session: %v", err)
	}
	if _, err := s.TesterLinkByPlain(pending); !errors.Is(err, store.ErrTokenExpired) {
		t.Fatalf("an expired link: %v", err)
	}
	if _, err := s.GC(time.Time{}); err != nil {
		t.Fatal(err)
	}
	st, err := s.BucketStats()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"tester_links", "tester_link_addrs", "tester_sessions", "tester_addr_sessions", "tester_revocations"} {
		if st[b] != 0 {
			t.Errorf("after gc, %s holds %d keys", b, st[b])
		}
	}
}

// An address's sessions are bounded: the oldest goes.
func TestTesterSessionsBounded(t *testing.T) {
	s := mustOpen(t)
	var tokens []string
	for range store.MaxTesterSessions + 2 {
		var plain string
		if err := s.CreateTesterLink("ana@example.com", "/apps", func(p string) store.Mail { plain = p; return store.Mail{} }); err != nil {
			t.Fatal(err)
		}
		_, tok, _, err := s.UseTesterLink(plain, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	for i, tok := range tokens {
		_, err := s.TesterSessionByToken(tok)
		if live := err == nil; live != (i >= 2) {
			t.Errorf("session %d live: %v", i, live)
		}
	}
}
