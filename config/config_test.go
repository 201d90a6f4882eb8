package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hangar.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefault(t *testing.T) {
	c := config.Default()
	if c.Listen != "127.0.0.1:8080" || c.DataDir != "./hangar-data" || c.PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("got %+v", c)
	}
	if c.MaxUploadSize != 4<<30 || c.SignedURLTTL != 15*time.Minute {
		t.Fatalf("got %+v", c)
	}
}

// The example file documents the defaults: loading it must give exactly
// Default(), and every key Hangar reads must appear in it.
func TestExampleMatchesDefault(t *testing.T) {
	c, err := config.Load("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Fatalf("example differs from default:\n got %+v\nwant %+v", c, config.Default())
	}
	body, _ := os.ReadFile("../config.example.toml")
	for _, key := range []string{"listen", "public_url", "data_dir", "tls_cert", "tls_key", "max_upload_size",
		"max_request_body", "signed_url_ttl", "download_token_ttl", "session_ttl", "shutdown_timeout",
		"read_header_timeout", "body_idle_timeout", "access_log_retention", "keep_builds", "max_age", "metrics_public",
		"trusted_proxies", "level", "format"} {
		if !regexp.MustCompile(`(?m)^#? ?` + key + ` +=`).Match(body) {
			t.Errorf("config.example.toml does not document %s", key)
		}
	}
}

func TestLoad(t *testing.T) {
	path := writeConfig(t, `
listen = "0.0.0.0:9000"
data_dir = "/var/lib/hangar"
max_upload_size = "512MiB"
signed_url_ttl = "1h"
trusted_proxies = ["10.0.0.0/8", "192.168.1.10"]
[log]
level = "debug"
format = "json"
`)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "http://localhost:9000" {
		t.Errorf("public_url derived from a wildcard listen: got %q", c.PublicURL)
	}
	if c.MaxUploadSize != 512<<20 || c.SignedURLTTL != time.Hour || c.LogFormat != "json" {
		t.Errorf("got %+v", c)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.10/32" {
		t.Errorf("trusted_proxies: got %v", c.TrustedProxies)
	}
	// Unset keys keep their defaults.
	if c.SessionTTL != config.Default().SessionTTL {
		t.Errorf("session_ttl: got %v, want default", c.SessionTTL)
	}
}

func TestLoadErrorsNameFileAndKey(t *testing.T) {
	tests := []struct {
		name, body, key string
	}{
		{"unknown key", `listn = "x"`, "listn"},
		{"unknown key in table", "[log]\nlevle = \"info\"", "log.levle"},
		{"bad duration", `signed_url_ttl = "soon"`, "signed_url_ttl"},
		{"zero duration", `session_ttl = "0s"`, "session_ttl"},
		{"bad size", `max_upload_size = "lots"`, "max_upload_size"},
		{"negative size", `max_upload_size = "-1GiB"`, "max_upload_size"},
		{"bad listen", `listen = "8080"`, "listen"},
		{"bad public url", `public_url = "ftp://x"`, "public_url"},
		{"bad proxy", `trusted_proxies = ["10.0.0.0/33"]`, "trusted_proxies[0]"},
		{"bad log level", "[log]\nlevel = \"loud\"", "log.level"},
		{"bad log format", "[log]\nformat = \"xml\"", "log.format"},
		{"tls half set", `tls_cert = "/x.pem"`, "tls_cert"},
		{"bad tls mode", `tls_mode = "on"`, "tls_mode"},
		{"files without files", `tls_mode = "files"`, "tls_mode"},
		{"bad tls name", `tls_mode = "local-ca"` + "\n" + `tls_names = ["bad_name!"]`, "tls_names[0]"},
		{"bad tls range", `tls_mode = "local-ca"` + "\n" + `tls_names = ["10.0.0.0/40"]`, "tls_names[0]"},
		{"acme with an address", `tls_mode = "acme"` + "\n" + `tls_names = ["a.example.com", "10.0.0.1"]`, "tls_names"},
		{"local-ca with nothing", `tls_mode = "local-ca"` + "\n" + `tls_lan_addresses = false`, "tls_names"},
		{"onboarding without tls", `onboarding_listen = ":80"`, "onboarding_listen"},
		{"tls_cert in another mode", `tls_mode = "local-ca"` + "\n" + `tls_cert = "/x"` + "\n" + `tls_key = "/y"`, "tls_cert"},
		{"negative retention", "[retention]\nkeep_builds = -1", "retention.keep_builds"},
		{"bad max age", "[retention]\nmax_age = \"30d\"", "retention.max_age"},
		{"wrong type", `listen = 8080`, "listen"},
		{"syntax", `listen = "x`, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("got nil error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %q does not name the file and %q", err, tt.key)
			}
		})
	}
	_, err := config.Load(filepath.Join(t.TempDir(), "missing.toml"))
	if err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Fatalf("missing file: got %v", err)
	}
}

func TestTLSNames(t *testing.T) {
	c, err := config.Load(writeConfig(t, `listen = ":8443"
tls_mode = "local-ca"
tls_names = ["Builds.LAN.", "192.168.1.10", "10.20.0.0/16", "fd00::7"]
onboarding_listen = ":80"`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TLSNames) != 1 || c.TLSNames[0] != "builds.lan" || len(c.TLSIPs) != 2 || len(c.TLSRanges) != 3 ||
		c.TLSRanges[1].String() != "10.20.0.0/16" || c.TLSRanges[0].String() != "192.168.1.10/32" || !c.TLSLANAddresses {
		t.Fatalf("%+v", c)
	}
	if c.PublicURL != "https://builds.lan:8443" || !c.TLS() {
		t.Fatalf("derived public URL %q", c.PublicURL)
	}
	c, err = config.Load(writeConfig(t, `tls_cert = "/c.pem"`+"\n"+`tls_key = "/k.pem"`))
	if err != nil || c.TLSMode != "files" || !strings.HasPrefix(c.PublicURL, "https://") {
		t.Fatalf("files by default with tls_cert: %q %v", c.TLSMode, err)
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]int64{
		"0": 0, "1024": 1024, "4GiB": 4 << 30, "4gib": 4 << 30, "512MiB": 512 << 20, "100MB": 100e6,
		"10K": 10 << 10, "1 GiB": 1 << 30, "7B": 7, "2TB": 2e12,
	}
	for in, want := range tests {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q): got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "1.5GiB", "-1", "1XB", "99999999999TiB"} {
		if _, err := config.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): got nil error", in)
		}
	}
}
