package cli

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unitLines are the values of key= in the shipped unit.
func unitLines(t *testing.T, key string) []string {
	t.Helper()
	f, err := os.Open("../systemd/hangar.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// The install steps as docs/operations.md writes them, and the unit's command
// line run as an unprivileged user, as systemd runs it for the dynamic
// user. Before, the config installed root:root 0640 could not
// be read by the dynamic user ("permission denied", exit 1); the unit
// now has systemd hand it a copy (LoadCredential=), and the file stays
// unreadable to other users. Needs root (to own the file and to switch
// users), as CI runs.
func TestSystemdInstallAsWritten(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: installs a root-owned config and runs the unit's command as another user")
	}
	readme, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{
		"install -d -m 0700 /etc/hangar",
		"install -m 0600 config.example.toml /etc/hangar/config.toml",
		"install -D -m 0644 README.md /usr/share/doc/hangar/README.md",
		"install -D -m 0644 -t /usr/share/doc/hangar/docs docs/*.md",
	} {
		if !strings.Contains(string(readme), step) {
			t.Errorf("the install steps in docs/operations.md lack %q", step)
		}
	}
	// Documentation= names what the steps install.
	if doc := unitLines(t, "Documentation"); len(doc) != 1 || doc[0] != "file:///usr/share/doc/hangar/docs/operations.md" {
		t.Errorf("Documentation=%v", doc)
	}
	creds := unitLines(t, "LoadCredential")
	exec0 := unitLines(t, "ExecStart")
	if len(creds) != 1 || len(exec0) != 1 {
		t.Fatalf("LoadCredential=%v ExecStart=%v", creds, exec0)
	}
	credName, credSource, _ := strings.Cut(creds[0], ":")
	if credSource != "/etc/hangar/config.toml" {
		t.Fatalf("LoadCredential takes %q, not the installed config", credSource)
	}

	const nobody = 65534
	root := t.TempDir()
	os.Chmod(root, 0o755)
	os.Chmod(filepath.Dir(root), 0o755) // testing's own directory above it
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	// /usr/local/bin/hangar, /etc/hangar (0700) and its config (0600), the
	// state directory systemd makes for the dynamic user.
	installed := filepath.Join(root, "hangar")
	copyFile(t, bin, installed, 0o755)
	etc := filepath.Join(root, "etc", "hangar")
	os.MkdirAll(etc, 0o700)
	os.Chmod(filepath.Dir(etc), 0o755)
	state := filepath.Join(root, "var-lib-hangar")
	os.Mkdir(state, 0o750)
	os.Chown(state, nobody, nobody)
	config := filepath.Join(etc, "config.toml")
	if err := os.WriteFile(config, []byte("listen = \"127.0.0.1:0\"\ndata_dir = \""+state+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	asNobody := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		cmd.Dir = state
		return cmd
	}

	// The unit as it was: the dynamic user reading /etc/hangar itself.
	out, err := asNobody(exec.Command(installed, "serve", "-config", config)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") {
		t.Fatalf("another user read the installed config: %v %s", err, out)
	}

	// What systemd does for LoadCredential=: a copy in a directory of the
	// service's own, readable by its user only, named in
	// $CREDENTIALS_DIRECTORY; then ExecStart with the variable expanded.
	credDir := filepath.Join(root, "credentials")
	os.Mkdir(credDir, 0o500)
	copyFile(t, config, filepath.Join(credDir, credName), 0o400) // credSource, installed under this test's root
	os.Chown(filepath.Join(credDir, credName), nobody, nobody)
	os.Chown(credDir, nobody, nobody)
	args := strings.Fields(strings.ReplaceAll(exec0[0], "${CREDENTIALS_DIRECTORY}", credDir))
	if args[0] != "/usr/local/bin/hangar" {
		t.Fatalf("ExecStart runs %s", args[0])
	}
	cmd := asNobody(exec.Command(installed, args[1:]...))
	cmd.Env = append(os.Environ(), "CREDENTIALS_DIRECTORY="+credDir)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	started := make(chan bool, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if regexp.MustCompile(`addr=127\.0\.0\.1:\d+`).MatchString(sc.Text()) {
				started <- true
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatalf("the unit's command did not start as the service user")
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(to, mode)
}
