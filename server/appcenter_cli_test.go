package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hangar/store"
)

// appcenterCLI finds App Center's real CLI, as .ci/run installs it (npm
// appcenter-cli 3.0.4 under $HANGAR_TOOLS/appcenter, by default
// ~/.cache/hangar-tools), or skips: CI must have it.
func appcenterCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs App Center's CLI: not with -short")
	}
	tools := os.Getenv("HANGAR_TOOLS")
	if tools == "" {
		home, _ := os.UserHomeDir()
		tools = filepath.Join(home, ".cache", "hangar-tools")
	}
	bin := filepath.Join(tools, "appcenter", "node_modules", ".bin", "appcenter")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("App Center's CLI is missing (%v): .ci/run installs it", err)
		}
		t.Skipf("SKIPPED: no App Center CLI at %s (npm install --prefix %s/appcenter appcenter-cli@3.0.4)", bin, tools)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("SKIPPED: no node")
	}
	return bin
}

// The real `appcenter distribute release`, unchanged but for
// APPCENTER_ENDPOINT and --env local, publishes an IPA and an APK to a
// tester group over HTTPS with Hangar's local CA: builds with their notes
// and version, the group's mail at mailpit; then `distribute releases
// list` and `show` read them back. An unknown group fails at the group
// step, after the release is made, as App Center's CLI does.
func TestAppCenterCLI(t *testing.T) {
	bin := appcenterCLI(t)
	e, mp, admin := newTestersEnv(t, withLocalCA(t))
	e.mustReq(200, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"name":"Testers"}`, nil)
	addr := serveReal(t, e)
	ca := filepath.Join(e.depot.DataDir(), "tls", "ca.crt")
	home := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append(args, "--token", admin, "--env", "local", "--disable-telemetry")...)
		cmd.Env = append(os.Environ(), "APPCENTER_ENDPOINT=https://"+addr, "NODE_EXTRA_CA_CERTS="+ca, "HOME="+home, "NO_UPDATE_NOTIFIER=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dir := t.TempDir()
	ipa, apk := filepath.Join(dir, "Demo.ipa"), filepath.Join(dir, "hello.apk")
	os.WriteFile(ipa, []byte(demoIPA()), 0o644)
	os.WriteFile(apk, []byte(helloAPK(t)), 0o644)

	seen := len(mp.Messages())
	out, err := run("distribute", "release", "--app", "acme/app", "-f", ipa, "-g", "Testers", "--build-version", "7.1", "--build-number", "71", "-r", "From the real CLI.")
	if err != nil || !strings.Contains(out, "was successfully released") {
		t.Fatalf("appcenter distribute release (IPA): %v\n%s", err, out)
	}
	got, _ := mailsTo(t, e, mp, seen)
	wantMailed(t, "the IPA to Testers", got, "ana@example.com", "bo@example.com")
	out, err = run("distribute", "release", "--app", "acme/app", "-f", apk, "-g", "Testers", "-r", "The Android build.")
	if err != nil || !strings.Contains(out, "was successfully released") {
		t.Fatalf("appcenter distribute release (APK): %v\n%s", err, out)
	}
	builds, _, _, err := e.store.SearchBuilds(e.build.ProjectID, store.BuildQuery{Status: store.BuildProcessed}, "", 10)
	if err != nil || len(builds) < 2 {
		t.Fatalf("builds: %d %v", len(builds), err)
	}
	if b := builds[1].Build; b.BundleID != "com.example.demo" || b.Notes != "From the real CLI." || b.VersionName != "7.1" {
		t.Errorf("the IPA's build: %+v", b)
	}
	if b := builds[0].Build; b.OS != "android" || b.Notes != "The Android build." {
		t.Errorf("the APK's build: %+v", b)
	}
	out, err = run("distribute", "releases", "list", "--app", "acme/app")
	if err != nil || !strings.Contains(out, "7.1") {
		t.Errorf("releases list: %v\n%s", err, out)
	}
	out, err = run("distribute", "releases", "show", "--app", "acme/app", "-r", fmt.Sprint(builds[1].Build.Seq))
	if err != nil || !strings.Contains(out, "From the real CLI.") {
		t.Errorf("releases show: %v\n%s", err, out)
	}
	out, err = run("distribute", "release", "--app", "acme/app", "-f", apk, "-g", "Nobody")
	if low := strings.ToLower(out); err == nil || !strings.Contains(low, "not found") && !strings.Contains(low, "could not find group") {
		t.Errorf("an unknown group: %v\n%s", err, out)
	}
}
