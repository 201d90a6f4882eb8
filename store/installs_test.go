package store_test

import (
	"testing"
	"time"

	"hangar/store"
)

// Install records are kept with the download that makes them, listed per
// build, distribution and tester, newest first and in pages, bounded per
// build, removed by gc after the retention and with their build.
func TestInstalls(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := openTest(t, store.Options{Now: func() time.Time { return now }})
	ws, p, b := fixture(t, s, 0)
	d, err := s.CreateDistribution(store.Distribution{ProjectID: p.ID, Slug: "beta", FilterType: store.FilterLatest, Security: store.SecurityPublic})
	if err != nil {
		t.Fatal(err)
	}
	defer store.SetInstallCap(3)()
	take := func(at time.Time, tester, kind string) {
		t.Helper()
		in := &store.Install{Time: at, WorkspaceID: ws.ID, BuildID: b.ID, FileID: "f", DistributionID: d.ID, Tester: tester, Kind: kind, Platform: "ios"}
		if _, err := s.UseDistribution(d.ID, store.AccessLogEntry{Time: at, ClientIP: "192.0.2.1", Install: in}); err != nil {
			t.Fatal(err)
		}
	}
	for i, who := range []string{"ana@example.com", "bo@example.com", "ana@example.com", "ana@example.com"} {
		take(now.Add(time.Duration(i)*time.Hour), who, store.InstallKindInstall)
	}
	all, next, err := s.Installs(store.InstallQuery{BuildID: b.ID}, 0, 10)
	if err != nil || next != 0 || len(all) != 3 || all[0].Seq != 4 || all[2].Seq != 2 {
		t.Fatalf("the build's, capped at 3: %+v %d %v", all, next, err)
	}
	page, next, _ := s.Installs(store.InstallQuery{DistributionID: d.ID}, 0, 2)
	rest, last, _ := s.Installs(store.InstallQuery{DistributionID: d.ID}, next, 2)
	if len(page) != 2 || next != 3 || len(rest) != 1 || rest[0].Seq != 2 || last != 0 {
		t.Fatalf("pages: %+v %d, %+v %d", page, next, rest, last)
	}
	anas, _, _ := s.Installs(store.InstallQuery{WorkspaceID: ws.ID, Tester: "ana@example.com"}, 0, 10)
	if len(anas) != 2 {
		t.Fatalf("ana's: %+v", anas)
	}
	// gc: the retention takes the two older ones.
	if _, err := s.GC(now.Add(150 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if left, _, _ := s.Installs(store.InstallQuery{BuildID: b.ID}, 0, 10); len(left) != 1 || left[0].Seq != 4 {
		t.Fatalf("after gc: %+v", left)
	}
	// The build's deletion takes its records and their index entries.
	if _, _, err := s.DeleteBuild(b.ID); err != nil {
		t.Fatal(err)
	}
	st, _ := s.BucketStats()
	if st["installs"] != 0 || st["install_index"] != 0 {
		t.Fatalf("after the build's deletion: %d records, %d index entries", st["installs"], st["install_index"])
	}
}
