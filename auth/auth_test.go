package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"hangar/auth"
)

// Cheap parameters keep the suite fast; the format and the checks are the
// same at any cost.
var testParams = auth.Params{Time: 1, Memory: 64, Threads: 1}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := auth.NewHasher(testParams, 2)
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoding: got %s", enc)
	}
	if again, _ := h.Hash(ctx, "correct horse"); again == enc {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	if ok, err := h.Verify(ctx, "correct horse", enc); !ok || err != nil {
		t.Fatalf("right password: got %v, %v", ok, err)
	}
	if ok, err := h.Verify(ctx, "correct horsE", enc); ok || err != nil {
		t.Fatalf("wrong password: got %v, %v", ok, err)
	}
	// A hasher with other (raised) parameters still verifies old hashes,
	// because each hash carries its own.
	raised := auth.NewHasher(auth.Params{Time: 2, Memory: 128, Threads: 2}, 1)
	if ok, err := raised.Verify(ctx, "correct horse", enc); !ok || err != nil {
		t.Fatalf("old hash after raising parameters: got %v, %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$??"} {
		if _, err := h.Verify(ctx, "x", bad); !errors.Is(err, auth.ErrMalformedHash) {
			t.Errorf("Verify(%q): got %v, want ErrMalformedHash", bad, err)
		}
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		role string
		has  auth.Permission
		not  auth.Permission
	}{
		{auth.RoleViewer, auth.ProjectRead | auth.BuildDownload, auth.BuildCreate | auth.BuildDelete | auth.BuildCreateLinks | auth.WorkspaceAdmin},
		{auth.RoleCI, auth.ProjectRead | auth.BuildCreate | auth.BuildDownload, auth.BuildDelete | auth.BuildCreateLinks | auth.WorkspaceAdmin},
		{auth.RoleDeveloper, auth.ProjectRead | auth.BuildCreate | auth.BuildDownload | auth.BuildDelete | auth.BuildCreateLinks, auth.WorkspaceAdmin},
		{auth.RoleAdmin, auth.All, 0},
	}
	for _, tt := range tests {
		p, ok := auth.RolePermissions(tt.role)
		if !ok || !p.Has(tt.has) || p&tt.not != 0 {
			t.Errorf("%s: got %v, want %v and none of %v", tt.role, p, tt.has, tt.not)
		}
	}
	if _, ok := auth.RolePermissions("owner"); ok {
		t.Error("unknown role accepted")
	}
	if got := (auth.ProjectRead | auth.WorkspaceAdmin).String(); got != "PROJECT_READ|WORKSPACE_ADMIN" {
		t.Errorf("String: got %s", got)
	}
}

func TestLimiter(t *testing.T) {
	l := &auth.Limiter{Burst: 3, Every: 10 * time.Second}
	now := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("ip:1", now); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait := l.Allow("ip:1", now)
	if ok || wait != 10*time.Second {
		t.Fatalf("4th attempt: got %v, wait %v; want refused, 10s", ok, wait)
	}
	if ok, _ := l.Allow("ip:2", now); !ok {
		t.Fatal("another key was limited")
	}
	if ok, _ := l.Allow("ip:1", now.Add(10*time.Second)); !ok {
		t.Fatal("no attempt after one refill period")
	}
	if ok, _ := l.Allow("ip:1", now.Add(11*time.Second)); ok {
		t.Fatal("second attempt after one refill period")
	}
	if ok, _ := l.Allow("ip:1", now.Add(time.Hour)); !ok {
		t.Fatal("still limited an hour later")
	}
}

// BenchmarkHashDefault shows what one login costs with DefaultParams.
func BenchmarkHashDefault(b *testing.B) {
	h := auth.NewHasher(auth.DefaultParams, 1)
	for b.Loop() {
		h.Hash(context.Background(), "password")
	}
}

// An unmatchable hash costs one derivation to check, like a real one, with
// the same parameters, and no password matches it.
func TestUnmatchable(t *testing.T) {
	h := auth.NewHasher(auth.Params{Time: 1, Memory: 64, Threads: 1}, 1)
	real, err := h.Hash(context.Background(), "a password")
	if err != nil {
		t.Fatal(err)
	}
	u := h.Unmatchable()
	if strings.Count(u, "$") != strings.Count(real, "$") || strings.Split(u, "$")[3] != strings.Split(real, "$")[3] {
		t.Fatalf("unmatchable %q is not shaped like %q", u, real)
	}
	if u == h.Unmatchable() {
		t.Fatal("two unmatchable hashes are equal")
	}
	before := h.Derivations()
	for _, pw := range []string{"", "a password", "x"} {
		if ok, err := h.Verify(context.Background(), pw, u); ok || err != nil {
			t.Fatalf("Verify(%q) = %v, %v", pw, ok, err)
		}
	}
	if n := h.Derivations() - before; n != 3 {
		t.Fatalf("%d derivations for 3 checks, want 3", n)
	}
}
