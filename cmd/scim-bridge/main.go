// Command scim-bridge is the SCIM 2.0 provisioning bridge: one binary that serves
// the SCIM endpoint, runs the sync workers and reconciliation, and offers the
// operator commands.
//
//	scim-bridge serve [--config FILE]
//	scim-bridge sandbox [--listen ADDR]
//	scim-bridge status [--config FILE | --url URL] [--tenant T] [--json]
//	scim-bridge retry [--config FILE | --url URL] --tenant T --connector C [--subject S]
//	scim-bridge reconcile [--config FILE | --url URL] [--tenant T] [--connector C] [--dry-run] [--force] [--json]
//	scim-bridge token new
//	scim-bridge version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// version is stamped at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	startProfiling(os.Getenv)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// env is what a command sees of the process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

const usage = `usage: scim-bridge <command> [flags]

commands:
  serve      serve SCIM, webhooks and admin endpoints; run sync workers and reconciliation
  sandbox    serve on the embedded store with four fake downstream servers, preconfigured
  status     sync health per tenant and connector
  retry      re-queue dead letters
  reconcile  one reconciliation run (prints the plan; --dry-run changes nothing)
  token new  print a fresh random token and the sha256: digest line for the configuration
  version    print the version and the Go toolchain it was built with

Run "scim-bridge <command> -h" for the flags of a command.
`

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	e := env{stdout: stdout, stderr: stderr, getenv: getenv}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serveCmd(ctx, e, args[1:])
	case "sandbox":
		return sandboxCmd(ctx, e, args[1:])
	case "status":
		return statusCmd(ctx, e, args[1:])
	case "retry":
		return retryCmd(ctx, e, args[1:])
	case "reconcile":
		return reconcileCmd(ctx, e, args[1:])
	case "token":
		return tokenCmd(e, args[1:])
	case "version", "--version":
		fmt.Fprintf(stdout, "scim-bridge %s (%s)\n", version, runtime.Version())
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "scim-bridge: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parseFlags parses a command's flags. It reports false, with the exit code, when
// the command must stop: 0 after -h or --help (the usage was asked for and
// printed), 2 for a bad flag or a stray argument (a configuration file named
// without --config must not be ignored silently).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "scim-bridge %s: unexpected argument %q (flags are written --name value)\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	return 0, true
}
