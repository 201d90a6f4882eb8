package server

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// The shutdown waits for builds being made while its timeout lasts, then
// stops them.
func TestFinishAssembles(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	s.assembleCtx, s.stopAssembles = context.WithCancel(context.Background())

	s.assembles.add()
	go func() { time.Sleep(20 * time.Millisecond); s.assembles.done() }()
	s.finishAssembles(time.Now().Add(time.Minute))
	if s.assembleCtx.Err() != nil {
		t.Fatal("stopped work that ended within the timeout")
	}
	select {
	case <-s.assembles.idle():
	default:
		t.Fatal("returned before the work ended")
	}

	s.assembles.add()
	go func() { <-s.assembleCtx.Done(); s.assembles.done() }() // ends only when stopped
	s.finishAssembles(time.Now())
	if s.assembleCtx.Err() == nil {
		t.Fatal("past the timeout, the work was not stopped")
	}
}
