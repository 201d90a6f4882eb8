package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hangar/hangartest"
	"strings"
	"testing"
)

// A raw upload may declare its SHA-256 (RFC 9530 Content-Digest): a
// duplicate is then recorded on the stored blob, and a body that is not
// what it declared is a 400 that stores nothing.
func TestUploadContentDigest(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "a.zip", "a"})
	body := []byte(strings.Repeat("attachment ", 1000))
	sum := sha256.Sum256(body)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	send := func(header string, data []byte) (int, []byte) {
		t.Helper()
		resp, out := hangartest.Do(t, "POST", e.ts.URL+projPath+"/build/"+b.BuildID+"/file?name=notes.txt", admin,
			"application/octet-stream", bytes.NewReader(data), "Content-Digest", header)
		return resp.StatusCode, out
	}
	for i, h := range []string{"", digest, "md5=:AAAA:, " + digest} { // stored, then duplicates
		code, out := send(h, body)
		if code != 201 || !strings.Contains(string(out), hex.EncodeToString(sum[:])) {
			t.Fatalf("upload %d: %d %s", i, code, out)
		}
	}
	before := e.storageUsed(admin)
	for name, tc := range map[string]struct {
		header string
		data   []byte
		want   string
	}{
		"other bytes":  {digest, append(bytes.Clone(body[:len(body)-1]), 'X'), "Content-Digest declared"},
		"longer":       {digest, append(bytes.Clone(body), 'X'), "Content-Digest declared"},
		"new, wrong":   {"sha-256=:" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + ":", []byte("new content"), "Content-Digest declared"},
		"not base64":   {"sha-256=:!!!:", body, "RFC 9530"},
		"no colons":    {"sha-256=" + base64.StdEncoding.EncodeToString(sum[:]), body, "RFC 9530"},
		"short digest": {"sha-256=:AAAA:", body, "RFC 9530"},
	} {
		code, out := send(tc.header, tc.data)
		if code != 400 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %d %s", name, code, out)
		}
	}
	if after := e.storageUsed(admin); after != before {
		t.Fatalf("refused uploads changed storageUsed: %d → %d", before, after)
	}
}
