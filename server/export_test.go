package server

import (
	"context"
	"fmt"
	"time"
)

// RouteInfo is a row of the route table, for tests that check coverage.
type RouteInfo struct {
	Method, Pattern string
	Public          bool // no credential at all (the signed URL or link is one)
}

// Routes returns the route table of s.
func Routes(s *Server) []RouteInfo {
	var out []RouteInfo
	for _, rt := range s.table() {
		out = append(out, RouteInfo{rt.method, rt.pattern, rt.access == public})
	}
	return out
}

// SyncDirectoryOnce runs one pass of the directory sync, for tests that
// cannot wait for its interval.
func SyncDirectoryOnce(s *Server) error { return s.syncDirectoryOnce(context.Background()) }

// Settle waits for what requests left running after their answers (the
// sign-in and reset links being made: see mailTesterLink), turns the
// notifications queued into mail, and then waits for the mail outbox to
// empty, so that a test can say which mails were sent,
// and which were not.
func Settle(s *Server) error {
	for range cap(s.resets) {
		s.resets <- struct{}{}
	}
	for range cap(s.resets) {
		<-s.resets
	}
	s.notifyOnce()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, err := s.store.QueuedMails()
		if err != nil || n == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d mails still queued", n)
		}
	}
}
