package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"hangar/config"
	"hangar/depot"
	"hangar/store"
)

// Operations commands. bbolt lets one process open the database, so each of
// backup, fsck and gc works on the data directory when no server runs, and
// through the server's admin endpoints (with an instance admin token) when
// one does. restore only ever writes a new, empty directory.

// remote is how a command reaches a running server.
type remote struct{ url, token *string }

func (c *adminCmd) remoteFlags() remote {
	return remote{
		url:   c.fs.String("url", "", "base `URL` of the running server (default: public_url from the config)"),
		token: c.fs.String("token", "", "instance admin `token` for a running server (default: $HANGAR_TOKEN, which keeps it out of ps)"),
	}
}

// do sends a request to the running server and returns the response when it
// succeeded; the caller closes its body.
func (r remote) do(cfg config.Config, method, path string, body any) (*http.Response, error) {
	base, token := *r.url, *r.token
	if base == "" {
		base = cfg.PublicURL
	}
	if token == "" {
		token = os.Getenv("HANGAR_TOKEN")
	}
	if token == "" {
		return nil, errors.New("the server is running and holds the database: give an instance admin token in HANGAR_TOKEN (or -token) to do this through it")
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the database is in use, and the server at %s cannot be reached: %w", base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s %s: the server answered %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return resp, nil
}

// localOrRemote runs local on the configured data directory when no
// server holds it, or remote through the running server's admin API when
// one does (within a second of trying).
func (c *adminCmd) localOrRemote(o depot.Options, rem remote, local func(*depot.Depot) error, remote func(remote, config.Config) error) error {
	d, cfg, err := c.openLocal(o)
	switch {
	case err == nil:
		defer d.Close()
		return local(d)
	case errors.Is(err, store.ErrLocked):
		return remote(rem, cfg)
	}
	return err
}

// call sends a request to the running server and decodes its JSON answer
// into out.
func (r remote) call(cfg config.Config, method, path string, body, out any) error {
	resp, err := r.do(cfg, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what was expected: %w", method, path, err)
	}
	return nil
}
