package store_test

import (
	"slices"
	"testing"
	"time"

	"hangar/store"
)

// Expired finds what retention deletes by the project's index, in batches:
// past the newest keep, or older than the cutoff, never a build pending or
// in progress, each once.
func TestExpired(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, store.Options{Now: func() time.Time { return clock }})
	ws, _ := s.CreateWorkspace(store.Workspace{Slug: "acme"})
	p, _ := s.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "app"})
	other, _ := s.CreateProject(store.Project{WorkspaceID: ws.ID, Slug: "other"})
	// Ten builds an hour apart, oldest first; the third is still in
	// progress. Another project's builds interleave.
	var ids []string
	for i := range 10 {
		status := store.BuildProcessed
		if i == 2 {
			status = store.BuildInProgress
		}
		b, err := s.CreateBuild(store.Build{ProjectID: p.ID, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		s.CreateBuild(store.Build{ProjectID: other.ID, Status: store.BuildProcessed})
		clock = clock.Add(time.Hour)
	}
	all := func(keep int, cutoff time.Time, batch int) []string {
		t.Helper()
		var got []string
		for round := 0; ; round++ {
			bs, err := s.Expired(p.ID, keep, cutoff, batch)
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) == 0 || round > 20 {
				break
			}
			for _, b := range bs {
				got = append(got, b.ID)
				if _, _, err := s.DeleteBuild(b.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		return got
	}
	// Keep 6, and nothing made before 05:30 (the builds were made at
	// 00:00 to 09:00): builds 0-5 are older, 0-3 are beyond the newest six;
	// 2 stays (in progress). Two a batch.
	cutoff := time.Date(2026, 1, 1, 5, 30, 0, 0, time.UTC)
	got := all(6, cutoff, 2)
	want := []string{ids[0], ids[1], ids[3], ids[4], ids[5]}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	left, _, _ := s.Builds(p.ID, store.Page{})
	if len(left) != 5 || left[4].ID != ids[2] {
		t.Fatalf("%d builds left (the last %s); want the newest four and the one in progress", len(left), left[len(left)-1].ID)
	}
	if o, _, _ := s.Builds(other.ID, store.Page{}); len(o) != 10 {
		t.Fatalf("the other project lost builds: %d left", len(o))
	}
	// Nothing more to do: an empty batch at once.
	if bs, _ := s.Expired(p.ID, 6, cutoff, 100); len(bs) != 0 {
		t.Fatalf("a second pass found %d", len(bs))
	}
}
