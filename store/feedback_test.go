package store_test

import (
	"errors"
	"fmt"
	"testing"

	"hangar/store"
)

// A build keeps at most MaxFeedbackPerBuild reports: the next is refused
// (ErrInvalid, nothing stored), another build's are not.
func TestFeedbackPerBuildBound(t *testing.T) {
	s := openTest(t, store.Options{})
	_, p, b := fixture(t, s, 0)
	for i := range store.MaxFeedbackPerBuild {
		if _, err := s.CreateFeedback(store.Feedback{BuildID: b.ID, Tester: "ana@example.com", Text: fmt.Sprint(i)}, nil); err != nil {
			t.Fatalf("report %d: %v", i+1, err)
		}
	}
	if _, err := s.CreateFeedback(store.Feedback{BuildID: b.ID, Tester: "ana@example.com", Text: "one more"}, nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("report %d: %v, want ErrInvalid", store.MaxFeedbackPerBuild+1, err)
	}
	if got, err := s.FeedbackOf(b.ID); err != nil || len(got) != store.MaxFeedbackPerBuild {
		t.Fatalf("kept %d reports (%v), want %d", len(got), err, store.MaxFeedbackPerBuild)
	}
	other, err := s.CreateBuild(store.Build{ProjectID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFeedback(store.Feedback{BuildID: other.ID, Tester: "ana@example.com", Text: "x"}, nil); err != nil {
		t.Fatalf("another build's report: %v", err)
	}
}
