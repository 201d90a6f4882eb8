package cli

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// hangar upload: the binary is also CI's client. It publishes a package
// and its attachments through the workspace API, each file a raw body
// that declares its SHA-256 (Content-Digest) and waits for 100 Continue,
// so a file the project holds already is answered before it is sent: a
// rerun of a job costs its hashing, not its upload.

// Exit statuses CI can branch on, beyond exitOK, exitFailure (a local
// problem: a file that cannot be read, a server certificate this machine
// does not trust) and exitUsage.
const (
	// exitRefused: the server refused the upload (a bad token, a project
	// that does not exist, a file over the size limit or the quota):
	// sending it again will not help.
	exitRefused = 3
	// exitUnreachable: the server could not be reached, or kept failing
	// (5xx), through every retry: worth a later rerun.
	exitUnreachable = 4
	// exitNotProcessed: the build is stored, but its package could not be
	// read (processing failed), or was not read before -wait ran out.
	exitNotProcessed = 5
)

// uploadBackoff is the first wait before a retry; it doubles each time
// (tests shorten it).
var uploadBackoff = time.Second

type uploadCmd struct {
	server, token, project, caFile string
	version, buildNumber, notes    string
	notesFile                      string
	tags                           tagList
	notify, link, asJSON           bool
	wait                           time.Duration
	retries                        int

	client   *http.Client
	ws, proj string
	base     string // the server's URL, without a trailing slash
	api      string // base + the project's API path
	log      io.Writer
	tty      bool
}

// tagList is a repeatable -tag flag; a value may also list tags with
// commas.
type tagList []string

func (t *tagList) String() string { return strings.Join(*t, ",") }
func (t *tagList) Set(v string) error {
	for _, tag := range strings.Split(v, ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			*t = append(*t, tag)
		}
	}
	return nil
}

// localFile is a file to send and what is known of it before sending.
type localFile struct {
	path, name string
	size       int64
	sha256     []byte
}

// uploadResult is what the command prints last (and with -json, as JSON).
type uploadResult struct {
	BuildID     string       `json:"buildId"`
	Status      string       `json:"status"`
	AppName     string       `json:"appName,omitempty"`
	Version     string       `json:"version,omitempty"`
	BuildNumber string       `json:"buildNumber,omitempty"`
	Error       string       `json:"processingError,omitempty"`
	ConsoleURL  string       `json:"consoleUrl"`
	PageURL     string       `json:"pageUrl,omitempty"`
	Files       []sentReport `json:"files"`
}

type sentReport struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Sent   int64  `json:"sent"` // bytes of the body sent: 0 when the server held the content
	SHA256 string `json:"sha256"`
}

func cmdUpload(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var u uploadCmd
	fs := flag.NewFlagSet("upload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&u.server, "server", os.Getenv("HANGAR_SERVER"), "the server's base `URL` (default $HANGAR_SERVER)")
	fs.StringVar(&u.token, "token", "", "an API `token` that may create builds in the project (default $HANGAR_TOKEN, which keeps it out of ps)")
	fs.StringVar(&u.project, "project", os.Getenv("HANGAR_PROJECT"), "`WORKSPACE/PROJECT` to publish to, by slug (default $HANGAR_PROJECT)")
	fs.StringVar(&u.caFile, "cacert", os.Getenv("HANGAR_CACERT"), "trust the certificate authority in `FILE` too (Hangar's local CA: DATA/tls/ca.crt; default $HANGAR_CACERT)")
	fs.StringVar(&u.version, "version", "", "the build's version label (the package's own version stays what phones see)")
	fs.StringVar(&u.buildNumber, "build-number", "", "the build's build-number label")
	fs.StringVar(&u.notes, "notes", "", "release notes")
	fs.StringVar(&u.notesFile, "notes-file", "", "read the release notes from `FILE`")
	fs.Var(&u.tags, "tag", "a `tag` for distributions that filter on tags (repeat, or separate with commas)")
	fs.BoolVar(&u.notify, "notify", false, `mail the tester groups of distributions set to notify "ask"`)
	fs.BoolVar(&u.link, "link", false, "make a public link to the package and print its page (the tester page)")
	fs.BoolVar(&u.asJSON, "json", false, "print the result as JSON")
	fs.DurationVar(&u.wait, "wait", 10*time.Minute, "wait this long for the package to be read (0: do not wait)")
	fs.IntVar(&u.retries, "retries", 5, "retries of each request on network errors and 5xx answers, with backoff")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: hangar upload [flags] PACKAGE [ATTACHMENT...]\n\nFlags may come before or after the files.\n\n")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if u.token == "" {
		u.token = os.Getenv("HANGAR_TOKEN")
	}
	if code := u.check(files, stderr); code != exitOK {
		return code
	}
	u.log, u.tty = stderr, onTerminal(stderr)
	local, err := u.hashAll(files)
	if err != nil {
		fmt.Fprintf(stderr, "hangar upload: %v\n", err)
		return exitFailure
	}
	res, err := u.run(ctx, local)
	if res.BuildID != "" {
		u.print(stdout, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hangar upload: %v\n", err)
		var ue *uploadError
		if errors.As(err, &ue) {
			return ue.code
		}
		return exitFailure
	}
	if u.wait > 0 && res.Status != "processed" {
		if res.Status == "error" {
			fmt.Fprintf(stderr, "hangar upload: the build is stored, but its package could not be read: %s\n", res.Error)
		} else {
			fmt.Fprintf(stderr, "hangar upload: the build is stored, but its package was still being read after %s\n", u.wait)
		}
		return exitNotProcessed
	}
	return exitOK
}

// parseInterleaved parses flags that may come before, between and after
// the positional arguments (CI scripts add flags at the end), which
// flag.Parse alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil // everything after -- is a file
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// check validates the flags and prepares the client; it returns the exit
// status of a usage error, or exitOK.
func (u *uploadCmd) check(files []string, stderr io.Writer) int {
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "hangar upload: %s\n", msg)
		return exitUsage
	}
	switch {
	case len(files) == 0:
		return usage("name the package to upload (then any attachments)")
	case u.server == "":
		return usage("-server (or HANGAR_SERVER) is needed: the server's base URL")
	case u.token == "":
		return usage("a token is needed: HANGAR_TOKEN (or -token)")
	case u.retries < 0:
		return usage("-retries cannot be negative")
	}
	ws, proj, ok := strings.Cut(u.project, "/")
	if !ok || ws == "" || proj == "" || strings.Contains(proj, "/") {
		return usage(fmt.Sprintf("-project (or HANGAR_PROJECT) must be WORKSPACE/PROJECT, not %q", u.project))
	}
	base, err := url.Parse(strings.TrimRight(u.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usage(fmt.Sprintf("-server %q: want an http:// or https:// URL", u.server))
	}
	if u.notesFile != "" {
		if u.notes != "" {
			return usage("give -notes or -notes-file, not both")
		}
		b, err := os.ReadFile(u.notesFile)
		if err != nil {
			fmt.Fprintf(stderr, "hangar upload: %v\n", err)
			return exitFailure
		}
		u.notes = string(b)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The server answers a file it holds before the body: wait for its
	// 100 Continue (or that answer) this long before sending anyway.
	tr.ExpectContinueTimeout = 5 * time.Second
	if u.caFile != "" {
		pem, err := os.ReadFile(u.caFile)
		if err != nil {
			fmt.Fprintf(stderr, "hangar upload: %v\n", err)
			return exitFailure
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return usage(fmt.Sprintf("-cacert %s: no PEM certificate in it", u.caFile))
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	u.client = &http.Client{Transport: tr}
	u.ws, u.proj, u.base = ws, proj, base.String()
	u.api = u.base + "/api/v1/workspace/" + url.PathEscape(ws) + "/project/" + url.PathEscape(proj)
	return exitOK
}

// hashAll reads each file once for its SHA-256, the digest it declares.
func (u *uploadCmd) hashAll(paths []string) ([]localFile, error) {
	out := make([]localFile, 0, len(paths))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s is not a regular file", p)
		}
		h := sha256.New()
		if err == nil {
			if fi.Size() > 64<<20 {
				fmt.Fprintf(u.log, "hashing %s (%s)\n", filepath.Base(p), sizeText(fi.Size()))
			}
			_, err = io.Copy(h, f)
		}
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, localFile{path: p, name: filepath.Base(p), size: fi.Size(), sha256: h.Sum(nil)})
	}
	return out, nil
}

// run creates the build with the package, adds the attachments, makes the
// link, and waits for processing. The result has the build's ID as soon
// as it exists, so a failure after that still says which build it was.
func (u *uploadCmd) run(ctx context.Context, files []localFile) (uploadResult, error) {
	var res uploadResult
	q := url.Values{"name": {files[0].name}}
	for k, v := range map[string]string{"version": u.version, "buildNumber": u.buildNumber, "notes": u.notes} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(u.tags) > 0 {
		q.Set("tags", strings.Join(u.tags, ","))
	}
	if u.notify {
		q.Set("notify", "true")
	}
	var b struct {
		BuildID string
		Files   []struct{ FileID string }
	}
	sent, err := u.sendFile(ctx, u.api+"/build?"+q.Encode(), files[0], &b)
	if err != nil {
		return res, err
	}
	if len(b.Files) != 1 {
		return res, fmt.Errorf("the server's answer has %d files, not the package", len(b.Files))
	}
	res.BuildID = b.BuildID
	res.ConsoleURL = u.base + "/w/" + url.PathEscape(u.ws) + "/p/" + url.PathEscape(u.proj) + "/b/" + b.BuildID
	res.Files = append(res.Files, report(files[0], sent))
	for _, f := range files[1:] {
		sent, err := u.sendFile(ctx, u.api+"/build/"+b.BuildID+"/file?"+url.Values{"name": {f.name}}.Encode(), f, nil)
		if err != nil {
			return res, fmt.Errorf("build %s is stored without %s: %w", b.BuildID, f.name, err)
		}
		res.Files = append(res.Files, report(f, sent))
	}
	if u.link {
		var l struct{ InstallURL string }
		if err := u.call(ctx, "POST", u.api+"/build/files/"+b.Files[0].FileID+"/public-link", strings.NewReader("{}"), &l); err != nil {
			return res, fmt.Errorf("build %s is stored, its link not made: %w", b.BuildID, err)
		}
		res.PageURL = l.InstallURL
	}
	return res, u.await(ctx, &res)
}

func report(f localFile, sent int64) sentReport {
	return sentReport{Name: f.name, Size: f.size, Sent: sent, SHA256: fmt.Sprintf("%x", f.sha256)}
}

// await polls the build until its package is read, or -wait runs out.
func (u *uploadCmd) await(ctx context.Context, res *uploadResult) error {
	deadline := time.Now().Add(u.wait)
	for {
		var b struct {
			Status, AppName, Version, BuildNumber, ProcessingError string
			PackageVersion, PackageBuildNumber                     string
		}
		if err := u.call(ctx, "GET", u.api+"/build/"+res.BuildID, nil, &b); err != nil {
			var ue *uploadError
			if errors.As(err, &ue) && strings.Contains(ue.msg, "answered 403") {
				// An app token uploads but does not read builds: the
				// upload is done; its reading is the console's to show.
				fmt.Fprintf(u.log, "this token may not read builds (an app token): not waiting for the package to be read\n")
				u.wait = 0
				return nil
			}
			return err
		}
		res.Status, res.AppName, res.Error = b.Status, b.AppName, b.ProcessingError
		res.Version, res.BuildNumber = b.Version, b.BuildNumber
		if b.PackageVersion != "" { // what phones see
			res.Version, res.BuildNumber = b.PackageVersion, b.PackageBuildNumber
		}
		if b.Status != "in_progress" || !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// uploadError is a failure with the exit status it calls for.
type uploadError struct {
	code int
	msg  string
}

func (e *uploadError) Error() string { return e.msg }

// answerError describes a refusal in the workspace API's error shape.
func answerError(resp *http.Response, body []byte) *uploadError {
	var e struct{ Error, Message string }
	msg := resp.Status
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = fmt.Sprintf("%d %s: %s", resp.StatusCode, e.Error, e.Message)
	}
	code := exitRefused
	if transient(resp) {
		code = exitUnreachable
	}
	return &uploadError{code, "the server answered " + msg}
}

// transient says whether an answer may be different on a retry: 5xx but
// a full disk or quota (507) or a missing feature (501), and 429.
func transient(resp *http.Response) bool {
	c := resp.StatusCode
	return c == http.StatusTooManyRequests || c >= 500 && c != http.StatusInsufficientStorage && c != http.StatusNotImplemented
}

// sendFile sends one file as a raw body that declares its digest and
// waits for 100 Continue, decodes the answer into out, and returns how
// many bytes of the body went out on the attempt that succeeded.
func (u *uploadCmd) sendFile(ctx context.Context, target string, f localFile, out any) (int64, error) {
	var sent int64
	err := u.retry(ctx, func() (*http.Request, func(), error) {
		fh, err := os.Open(f.path)
		if err != nil {
			return nil, nil, err
		}
		p := newProgress(u.log, u.tty, f.name, f.size)
		req, err := http.NewRequestWithContext(ctx, "POST", target, p.reader(fh))
		if err != nil {
			fh.Close()
			return nil, nil, err
		}
		req.ContentLength = f.size
		if f.size == 0 {
			req.Body = http.NoBody
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(f.sha256)+":")
		req.Header.Set("Expect", "100-continue")
		return req, func() {
			fh.Close()
			sent = p.done()
		}, nil
	}, out)
	return sent, err
}

// call sends a small request (JSON or none) with retries.
func (u *uploadCmd) call(ctx context.Context, method, target string, body *strings.Reader, out any) error {
	return u.retry(ctx, func() (*http.Request, func(), error) {
		var rd io.Reader = http.NoBody
		if body != nil {
			body.Seek(0, io.SeekStart)
			rd = body
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err == nil && body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, func() {}, err
	}, out)
}

// retry sends the request build makes until it gets an answer that is
// not transient, at most 1+retries times with a doubling wait between
// (Retry-After when the server gives one), and decodes a 2xx answer into
// out. finish runs after each attempt.
func (u *uploadCmd) retry(ctx context.Context, build func() (*http.Request, func(), error), out any) error {
	wait := uploadBackoff
	var badCert *tls.CertificateVerificationError
	for attempt := 0; ; attempt++ {
		req, finish, err := build()
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+u.token)
		req.Header.Set("User-Agent", "hangar-upload/"+Version)
		resp, err := u.client.Do(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
		}
		finish()
		var why string
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &badCert):
			// Not a passing failure: this machine does not trust the server.
			return &uploadError{exitFailure, err.Error() + " (for Hangar's local CA, give -cacert DATA/tls/ca.crt)"}
		case err != nil:
			why = err.Error()
		case resp.StatusCode/100 == 2:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("the server's answer is not the JSON expected: %w", err)
			}
			return nil
		case !transient(resp):
			return answerError(resp, body)
		default:
			why = answerError(resp, body).msg
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s <= 300 {
				wait = time.Duration(s) * time.Second
			}
		}
		if attempt == u.retries {
			return &uploadError{exitUnreachable, fmt.Sprintf("%s %s: %s (after %d attempts)", req.Method, req.URL.Redacted(), why, attempt+1)}
		}
		// Jitter keeps many CI jobs from coming back at once.
		d := wait/2 + rand.N(wait/2+1)
		fmt.Fprintf(u.log, "%s; retrying in %s\n", why, d.Round(100*time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// print writes the result: the build, then the pages, last the tester
// page (what a CI step posts to chat).
func (u *uploadCmd) print(w io.Writer, r uploadResult) {
	if u.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(r)
		return
	}
	fmt.Fprintf(w, "build    %s\n", r.BuildID)
	if r.Status != "" {
		status := r.Status
		if r.AppName != "" {
			status += ": " + r.AppName + " " + r.Version
			if r.BuildNumber != "" {
				status += " (" + r.BuildNumber + ")"
			}
		}
		fmt.Fprintf(w, "status   %s\n", status)
	}
	fmt.Fprintf(w, "console  %s\n", r.ConsoleURL)
	if r.PageURL != "" {
		fmt.Fprintf(w, "page     %s\n", r.PageURL)
	}
}
