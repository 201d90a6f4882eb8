package oidctest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dexidp/dex/storage"
)

// The flow once in Chromium, as a person goes through it: Hangar's
// button, Dex's own login form filled in, back in Hangar signed in.
func TestSignInWithDexInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser test: not with -short")
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		if os.Getenv("CI") != "" && os.Getenv("HANGAR_NO_BROWSER") == "" {
			t.Fatal("chromium is missing: .ci/run installs it")
		}
		t.Skip("SKIPPED, a browser test did not run: no chromium here")
	}
	var hangarMux http.Handler
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hangarMux.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	d := startDex(t, hs.URL, storage.Password{Email: "bea@example.com", Hash: []byte("bea-password"), Username: "bea",
		PreferredUsername: "bea", UserID: "u-bea", Groups: []string{"qa"}})
	h := startHangar(t, func() string { return hs.URL }, func() string { return d.URL }, &hangarMux)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(h.URL+"/signin?next=/w/acme"),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/signin/oidc/dex"]`))); err != nil {
		t.Fatal(err)
	}
	// Clicked by script: chromedp's Click, like its Submit, can outlive its
	// node when the page goes at once (seen under -race).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('a[href^="/signin/oidc/dex"]').click(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		// Dex's own page.
		chromedp.WaitVisible(chromedp.CSS(`input[name="login"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), "bea@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "bea-password")); err != nil {
		t.Fatal(err)
	}
	// Submitted by script: chromedp's Submit can outlive its node when
	// the page it submits is gone at once (seen under -race).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('input[name="password"]').form.submit(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("a.who"))); err != nil {
		t.Fatal(err)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("a.who")))
	if err != nil || who != "bea" {
		t.Fatalf("signed in as %q (%v)", who, err)
	}
	url, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if !strings.HasPrefix(url, "/w/acme") {
		t.Errorf("landed on %s, want the page asked for", url)
	}
}
