package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

const tokenUsage = `usage: scim-bridge token new

Prints a fresh random token (paste it into the IdP, or use it as a Basic
password or admin token) and the line to put in the configuration instead of
it: sha256:<hex>, the token's SHA-256 digest, which is of no use to anyone
who reads the configuration.
`

// tokenCmd is "token new": the digest workflow of package auth.
func tokenCmd(e env, args []string) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), tokenUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 || fs.Arg(0) != "new" {
		fs.Usage()
		return 2
	}
	token, digest := auth.NewToken()
	fmt.Fprintf(e.stdout, "token:  %s\ndigest: %s\n", token, digest)
	fmt.Fprintln(e.stderr, "Give the token to the IdP (it is shown once); put only the digest line in the configuration, e.g.\n  scim_tokens:\n    - name: okta-2027\n      token: "+digest)
	return 0
}
