package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// hangar compact refuses a running server's database, and on a stopped
// one leaves a database the server starts on with every file, which fsck
// finds sound.
func TestCompactCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := writeDataConfig(t, data)
	base, admin, buildID, stop := servedBuild(t, data)
	want := map[string]string{}
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		want[uploadRaw(t, base, admin, buildID, name, []byte("content of "+name))] = "content of " + name
	}
	if code, _, errOut := hangarCmd(t, "compact", "-config", cfg); code != exitFailure || !strings.Contains(errOut, "stop the server first") {
		t.Fatalf("compact beside a running server: %d %s", code, errOut)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("stop: %d", code)
	}
	code, out, errOut := hangarCmd(t, "compact", "-config", cfg)
	if code != exitOK || !strings.Contains(out, "compacted") {
		t.Fatalf("compact: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := hangarCmd(t, "fsck", "-config", cfg, "-verify"); code != exitOK || !strings.Contains(out, "0 problems") {
		t.Fatalf("fsck after compact: %d %s %s", code, out, errOut)
	}
	base, _, stop = startServe(t, data)
	defer stop()
	for id, content := range want {
		if got := download(t, base, admin, id); string(got) != content {
			t.Fatalf("file %s after compact: %q", id, got)
		}
	}
	if code, _, errOut := hangarCmd(t, "compact", "-config", writeDataConfig(t, filepath.Join(t.TempDir(), "none"))); code != exitFailure || !strings.Contains(errOut, "no such file") {
		t.Fatalf("compact without a database: %d %s", code, errOut)
	}
}
