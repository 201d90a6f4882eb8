// Command hangar is a self-hosted build distribution server: one binary, one
// data directory, no external services. The command line is package cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"hangar/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cli.Version = version
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
