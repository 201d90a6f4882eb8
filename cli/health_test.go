package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// hangar health answers 0 while the server here is ready, 1 when it is
// not, on the address serve reads (HANGAR_LISTEN over the config's).
func TestHealthCommand(t *testing.T) {
	base, _, stop := startServe(t, filepath.Join(t.TempDir(), "data"))
	addr := strings.TrimPrefix(base, "http://")
	_, port, _ := strings.Cut(addr, ":")
	t.Setenv("HANGAR_LISTEN", "0.0.0.0:"+port) // a container's: asked on loopback
	if code, out, errOut := hangarCmd(t, "health"); code != exitOK || !strings.Contains(out, "ready: http://127.0.0.1:"+port+"/readyz") {
		t.Fatalf("a ready server: exit %d %s %s", code, out, errOut)
	}
	stop()
	if code, _, errOut := hangarCmd(t, "health", "-timeout", "1s"); code != exitFailure || !strings.Contains(errOut, "not ready") {
		t.Fatalf("a stopped server: exit %d %s", code, errOut)
	}
	t.Setenv("HANGAR_LISTEN", "nonsense")
	if code, _, errOut := hangarCmd(t, "health"); code != exitFailure || !strings.Contains(errOut, `listen "nonsense"`) {
		t.Fatalf("a bad address: exit %d %s", code, errOut)
	}
}
