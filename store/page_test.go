package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"hangar/hangartest"
	"hangar/store"
)

func buildIDs(bs []store.Build) []string {
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

// checkBuildPages compares every page by number, and a walk by cursor,
// with the whole list.
func checkBuildPages(t *testing.T, s *store.Store, projectID string, want []string) {
	t.Helper()
	all, next, err := s.Builds(projectID, store.Page{})
	if err != nil || next != "" || !slices.Equal(buildIDs(all), want) {
		t.Fatalf("whole list: %v, next %q, %v; want %v", buildIDs(all), next, err, want)
	}
	for _, limit := range []int{1, 3, 7} {
		for offset := 0; offset <= len(want)+1; offset++ {
			got, _, err := s.Builds(projectID, store.Page{Offset: offset, Limit: limit})
			end := min(offset+limit, len(want))
			exp := want[min(offset, len(want)):end]
			if err != nil || !slices.Equal(buildIDs(got), exp) {
				t.Fatalf("offset %d limit %d: got %v, %v; want %v", offset, limit, buildIDs(got), err, exp)
			}
		}
		var walked []string
		p := store.Page{Limit: limit}
		for range len(want) + 1 {
			got, next, err := s.Builds(projectID, p)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, buildIDs(got)...)
			if next == "" {
				break
			}
			p.After = next
		}
		if !slices.Equal(walked, want) {
			t.Fatalf("cursor walk, limit %d: got %v, want %v", limit, walked, want)
		}
	}
}

// Paging by number seeks the counted index: the test spreads two projects'
// builds over the index's blocks of 256 and 65,536 sequence numbers (by
// moving the sequence on), deletes some, and compares every page with the
// whole list.
func TestBuildPagesAcrossBlocks(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(filepath.Join(dir, "hangar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, p, first := fixture(t, s, 0)
	other, _ := s.CreateProject(store.Project{WorkspaceID: p.WorkspaceID, Slug: "other"})
	mine := []string{first.ID}
	var theirs []string
	for i, seq := range []uint64{0, 250, 253, 300, 509, 65_530, 65_534, 131_069, 1 << 40} {
		if seq > 0 {
			if err := s.SetBuildSeq(seq); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 3 {
			pid := p.ID
			if (i+j)%3 == 0 {
				pid = other.ID
			}
			b, err := s.CreateBuild(store.Build{ProjectID: pid})
			if err != nil {
				t.Fatal(err)
			}
			if pid == p.ID {
				mine = append(mine, b.ID)
			} else {
				theirs = append(theirs, b.ID)
			}
		}
	}
	for _, i := range []int{1, 5, 9, len(mine) - 1} {
		if _, _, err := s.DeleteBuild(mine[i]); err != nil {
			t.Fatal(err)
		}
	}
	mine = slices.Delete(mine, len(mine)-1, len(mine))
	mine = slices.Delete(mine, 9, 10)
	mine = slices.Delete(mine, 5, 6)
	mine = slices.Delete(mine, 1, 2)
	slices.Reverse(mine)
	slices.Reverse(theirs)
	checkBuildPages(t, s, p.ID, mine)
	checkBuildPages(t, s, other.ID, theirs)
	if a, err := s.Audit(); err != nil || a.BuildCountsWrong {
		t.Fatalf("audit: counts wrong %v, %v", a.BuildCountsWrong, err)
	}

	// A database without the counts (schema 4) gets them at Open.
	if err := s.DropBuildCounts(); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Audit(); !a.BuildCountsWrong {
		t.Fatal("audit does not see the counts missing")
	}
	if err := s.SetSchemaVersion(4); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.Open(filepath.Join(dir, "hangar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkBuildPages(t, s, p.ID, mine)
	if a, _ := s.Audit(); a.BuildCountsWrong {
		t.Fatal("the migration left the counts wrong")
	}
	// fsck's repair rebuilds them too.
	s.DropBuildCounts()
	if err := s.RepairCounts(); err != nil {
		t.Fatal(err)
	}
	checkBuildPages(t, s, other.ID, theirs)
}

func TestAccessLogPages(t *testing.T) {
	s := openTest(t, store.Options{AccessLogCap: 20})
	_, _, b := fixture(t, s, 0)
	f, _ := s.AddFile(store.File{BuildID: b.ID, Name: "a", Size: 1, Checksum: checksum("a")})
	l, _ := s.CreateLink(store.PublicLink{FileID: f.ID})
	t0 := time.Now()
	for i := range 50 {
		if _, err := s.UseLink(l.ID, "a", store.AccessLogEntry{Time: t0, UserAgent: fmt.Sprint(i)}, true); err != nil {
			t.Fatal(err)
		}
	}
	var want []string // the cap keeps the newest 20: 49 down to 30
	for i := 49; i >= 30; i-- {
		want = append(want, fmt.Sprint(i))
	}
	agents := func(es []store.AccessLogEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.UserAgent)
		}
		return out
	}
	for _, limit := range []int{1, 6} {
		for offset := 0; offset <= 22; offset++ {
			got, _, err := s.AccessLog(l.ID, store.Page{Offset: offset, Limit: limit})
			exp := want[min(offset, len(want)):min(offset+limit, len(want))]
			if err != nil || !slices.Equal(agents(got), exp) {
				t.Fatalf("offset %d limit %d: got %v, %v; want %v", offset, limit, agents(got), err, exp)
			}
		}
		var walked []string
		p := store.Page{Limit: limit}
		for range 30 {
			got, next, err := s.AccessLog(l.ID, p)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, agents(got)...)
			if next == "" {
				break
			}
			p.After = next
		}
		if !slices.Equal(walked, want) {
			t.Fatalf("cursor walk: got %v, want %v", walked, want)
		}
	}
	bads := []string{"!!", string(make([]byte, 200))}
	if _, next, err := s.AccessLog(l.ID, store.Page{Limit: 1}); err == nil && next != "" {
		// A cursor has one spelling: the same bytes spelled otherwise are
		// not one.
		if other, ok := hangartest.Respell(next); ok {
			bads = append(bads, other)
		} else {
			t.Errorf("cursor %q cannot be respelled: the check below would not run", next)
		}
	}
	for _, bad := range bads {
		if _, _, err := s.AccessLog(l.ID, store.Page{After: bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("cursor %q: %v, want ErrInvalid", bad, err)
		}
	}
}

// A search pages through a project's builds in calls of bounded cost: every
// match comes exactly once, in order, whatever the page size, and a call
// that reaches MaxSearchScan builds stops there and says where to go on.
func TestSearchBuilds(t *testing.T) {
	s := openTest(t, store.Options{NoSync: true})
	_, p, _ := fixture(t, s, 0)
	n := store.MaxSearchScan + 700
	var want []string // newest first: builds whose notes say "crash", or tagged beta and in error
	for i := range n {
		b := store.Build{ProjectID: p.ID, VersionName: fmt.Sprintf("1.%d", i), Status: store.BuildProcessed}
		switch {
		case i%97 == 0:
			b.Notes = "Fixes a CRASH at start"
		case i%89 == 0:
			b.Tags, b.Status = []string{"beta"}, store.BuildError
		}
		created, err := s.CreateBuild(b)
		if err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			want = append(want, created.ID)
		}
	}
	slices.Reverse(want)
	for _, limit := range []int{1, 7, 100} {
		var got []string
		after, calls, short := "", 0, false
		for {
			page, next, scanned, err := s.SearchBuilds(p.ID, store.BuildQuery{Text: "crash"}, after, limit)
			if err != nil || scanned > store.MaxSearchScan {
				t.Fatalf("search: %v, scanned %d", err, scanned)
			}
			if len(page) < limit && next != "" {
				short = true // stopped by the scan bound, not the limit
			}
			for _, b := range page {
				got = append(got, b.ID)
			}
			calls++
			if next == "" || calls > n {
				break
			}
			after = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: %d matches, want %d", limit, len(got), len(want))
		}
		if limit == 100 && !short {
			t.Fatal("a search over more than MaxSearchScan builds never stopped at the bound")
		}
	}
	page, _, _, _ := s.SearchBuilds(p.ID, store.BuildQuery{Status: store.BuildError, Text: "BETA"}, "", 1000)
	if len(page) == 0 {
		t.Fatal("status and tag search found nothing")
	}
	for _, b := range page {
		if b.Status != store.BuildError || !slices.Contains(b.Tags, "beta") {
			t.Fatalf("search by status and tag returned %+v", b.Build)
		}
	}
}

// QueryBuilds against the whole list: every offset and limit, both orders,
// with and without filters (tags, git branch and tag, version, status),
// and totals; builds of another project never appear.
func TestQueryBuilds(t *testing.T) {
	s := openTest(t, store.Options{})
	_, p, first := fixture(t, s, 0)
	other, _ := s.CreateProject(store.Project{WorkspaceID: p.WorkspaceID, Slug: "other"})
	all := []store.Build{first}
	for i := range 40 {
		b := store.Build{ProjectID: p.ID, Status: store.BuildProcessed, VersionName: fmt.Sprintf("1.%d", i%4), OS: []string{"ios", "android"}[i%2],
			Tags: []string{[]string{"beta", "qa"}[i%2], "all"}, Deployer: &store.Deployer{Info: store.DeployerInfo{Branch: []string{"main", "dev", "feat/x"}[i%3], Tag: fmt.Sprint("v", i%5)}}}
		if i%7 == 0 {
			b.Status = store.BuildError
		}
		created, err := s.CreateBuild(b)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, created)
		if i%10 == 0 {
			s.CreateBuild(store.Build{ProjectID: other.ID, Status: store.BuildProcessed, Tags: []string{"beta", "all"}})
		}
	}
	slices.Reverse(all) // newest first
	for _, q := range []store.BuildQuery{{}, {Tags: []string{"beta"}}, {Tags: []string{"beta", "all"}}, {Branch: "dev"}, {GitTag: "v3"},
		{VersionName: "1.2", OS: "ios"}, {Status: store.BuildError}, {Branch: "none"}} {
		var want []string
		for _, b := range all {
			if q.Matches(b) {
				want = append(want, b.ID)
			}
		}
		for _, asc := range []bool{false, true} {
			order := slices.Clone(want)
			if asc {
				slices.Reverse(order)
			}
			for _, limit := range []int{1, 4, 50} {
				for offset := 0; offset <= len(order)+1; offset++ {
					r, err := s.QueryBuilds(p.ID, q, asc, offset, limit)
					var got []string
					for _, b := range r.Builds {
						got = append(got, b.ID)
					}
					exp := order[min(offset, len(order)):min(offset+limit, len(order))]
					if err != nil || !slices.Equal(got, exp) || r.Total != len(order) || r.Truncated {
						t.Fatalf("%+v asc %v offset %d limit %d: got %v (total %d), %v; want %v (total %d)", q, asc, offset, limit, got, r.Total, err, exp, len(order))
					}
				}
			}
		}
	}
}
