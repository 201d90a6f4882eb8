package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hangar/config"
)

// FuzzLoad: any file either loads into a configuration whose values are
// usable, or fails with an error that names the file. Never a panic.
func FuzzLoad(f *testing.F) {
	example, _ := os.ReadFile("../config.example.toml")
	f.Add(string(example))
	f.Add("listen = \"0.0.0.0:1\"\nmax_upload_size = \"1KiB\"\n[log]\nlevel = \"debug\"\n")
	f.Add("signed_url_ttl = \"-5m\"")
	f.Add("trusted_proxies = [\"::1\", \"10.0.0.0/8\"]")
	f.Add("[[log]]\nx=1")
	f.Fuzz(func(t *testing.T, body string) {
		path := filepath.Join(t.TempDir(), "hangar.toml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.MaxUploadSize <= 0 || c.SignedURLTTL <= 0 || c.BodyIdleTimeout <= 0 || c.DataDir == "" ||
			!strings.HasPrefix(c.PublicURL, "http") {
			t.Fatalf("loaded an unusable config: %+v", c)
		}
	})
}
