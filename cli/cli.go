// Package cli is the hangar command line: one file per subcommand, and
// the shared ways they open a data directory or reach a running server.
// The binary's main only hands it the arguments.
//
// Exit status: 0 on success, 2 on a usage error, 1 on a runtime failure, each
// failure explained in one line on stderr.
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version is the binary's version (main sets it from its build flags).
var Version = "dev"

const usageText = `Hangar: self-hosted build distribution.

Usage:
  hangar serve [-config FILE] [-listen ADDR] [-lan]
                                  run the server (no FILE: embedded defaults,
                                  127.0.0.1:8080, data in ./hangar-data;
                                  -lan to serve a LAN with phones: HTTPS from
                                  the local CA on 0.0.0.0:8443, the trust
                                  page on :8080; -listen or HANGAR_LISTEN
                                  for another address)
  hangar user add|passwd|list     manage users (while the server is stopped)
  hangar user disable|enable|delete USERNAME
                                  offboard a user (stopped, or through the server)
  hangar token create|list|revoke manage service account and app tokens
                                  (while the server is stopped)
  hangar upload -project WS/PROJ PACKAGE [ATTACHMENT...]
                                  publish a build from CI (server and token
                                  from -server/-token or HANGAR_SERVER and
                                  HANGAR_TOKEN; 'hangar upload -h' for the rest)
  hangar backup -o FILE.tar       consistent backup, also of a running server
  hangar restore FILE.tar [-data DIR]
                                  unpack a backup into a new data directory
  hangar fsck [-verify] [-repair] check that metadata and blobs agree
  hangar gc                       remove expired tokens and old access logs
  hangar compact                  rewrite the database without its free pages
                                  (server stopped)
  hangar blobs migrate -to s3|local
                                  copy every blob to the [blobs] bucket or
                                  back (server stopped; resumable)
  hangar health [-config FILE]    exit 0 if the server here is ready (a
                                  container's health check: the image has
                                  no shell)
  hangar version                  print the version
  hangar help                     print this help

Every command takes -config FILE; 'hangar COMMAND -h' lists its flags.
backup, fsck and gc work through a running server's admin API when it holds
the database: set HANGAR_TOKEN to an instance admin token.

See config.example.toml for every setting.
`

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Run executes one command line and returns the exit status. ctx ends the
// server gracefully when it is done.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stderr)
	case "user":
		return cmdUser(args[1:], stdin, stdout, stderr)
	case "token":
		return cmdToken(args[1:], stdin, stdout, stderr)
	case "fsck":
		return cmdFsck(args[1:], stdout, stderr)
	case "blobs":
		return cmdBlobs(args[1:], stdout, stderr)
	case "gc":
		return cmdGC(args[1:], stdout, stderr)
	case "compact":
		return cmdCompact(args[1:], stdout, stderr)
	case "backup":
		return cmdBackup(args[1:], stdout, stderr)
	case "upload":
		return cmdUpload(ctx, args[1:], stdout, stderr)
	case "health":
		return cmdHealth(args[1:], stdout, stderr)
	case "restore":
		return cmdRestore(args[1:], stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "hangar", Version, buildDetails())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "hangar: unknown command %q (try 'hangar help')\n", args[0])
		return exitUsage
	}
}

// buildDetails says what the binary was built from: the commit (marked
// "+modified" when the tree had changes), Go's version and the target,
// from the build information Go stamps into every binary.
func buildDetails() string {
	commit := "unknown commit"
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			commit = "commit " + rev[:min(12, len(rev))]
			if modified == "true" {
				commit += "+modified"
			}
		}
	}
	return fmt.Sprintf("(%s, %s, %s/%s)", commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
