package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/config"
	"github.com/scim-bridge/scim-bridge/store"
)

func serveCmd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "configuration file (YAML); default $SCIM_BRIDGE_CONFIG, else none")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(e, *configPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge: invalid configuration:\n%v\n", err)
		return 1
	}
	lw := newLogWriter(e.stderr)
	defer lw.Close()
	log := newLogger(lw, cfg.Log)
	installRedisLogger(log)
	if len(cfg.Tenants) == 0 {
		token := e.getenv("SCIM_BRIDGE_TOKEN")
		generated := token == ""
		if generated && cfg.Redis != "" {
			// Replicas and restarts sharing this Redis would each invent
			// another token, and the IdP would be refused by all but one.
			fmt.Fprint(e.stderr, msgNoSharedToken)
			return 1
		}
		if generated {
			token = randomToken()
		}
		cfg.Tenants = []config.Tenant{{ID: "default", Credentials: auth.Credentials{Tokens: []auth.Token{{Value: token}}}, DeletionThreshold: config.DefaultDeletionThreshold}}
		if generated {
			// Printed once, to the terminal only: it is the credential to paste into the IdP.
			fmt.Fprintf(e.stderr, "no tenants configured: serving tenant \"default\" with the generated SCIM bearer token\n  %s\n(set SCIM_BRIDGE_TOKEN to choose it)\n", token)
		} else {
			log.Info().Msg("no tenants configured: serving tenant \"default\" with the token from SCIM_BRIDGE_TOKEN")
		}
	}
	return serveConfig(ctx, e, cfg, log, nil)
}

// msgNoSharedToken explains why serve does not generate the default tenant's
// token on a shared store.
const msgNoSharedToken = `scim-bridge: no tenants are configured and SCIM_BRIDGE_TOKEN is not set.
A token is generated only on the embedded store: with redis set, every replica
and every restart would generate a different one. Set SCIM_BRIDGE_TOKEN (make
one with "scim-bridge token new") or configure tenants.
`

// serveConfig runs the bridge described by cfg until ctx is done. ready, when
// set, is called with the listener's address once serving.
func serveConfig(ctx context.Context, e env, cfg *config.Config, log zerolog.Logger, ready func(addr string)) int {
	return serveConfigWrapped(ctx, e, cfg, log, ready, nil)
}

// serveConfigWrapped is serveConfig with an optional wrapper around the HTTP handler.
func serveConfigWrapped(ctx context.Context, e env, cfg *config.Config, log zerolog.Logger, ready func(addr string), wrap func(http.Handler) http.Handler) int {
	gcCtx, stopGC := context.WithCancel(ctx)
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		tuneGC(gcCtx, e.getenv)
	}()
	defer func() {
		stopGC()
		<-gcDone
	}()
	st, err := store.Open(ctx, store.Options{URL: cfg.Redis, Logger: log})
	if err != nil {
		log.Error().Err(err).Msg("open store")
		return 1
	}
	defer st.Close()
	if st.Embedded() {
		log.Warn().Msg("using the embedded in-memory store: all state is lost when the process exits (set redis: to keep it)")
	}
	b, err := buildBridge(ctx, cfg, st, log)
	if err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	// Before the store closes (defers run last first): Close drains the audit
	// writer, whose entries would otherwise be lost with the Redis client.
	defer func() { _ = b.Close() }()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error().Err(err).Str("listen", cfg.Listen).Msg("listen")
		return 1
	}
	log.Info().Str("scim", "http://"+ln.Addr().String()+"/scim/v2").Int("tenants", len(cfg.Tenants)).Msg("serving")
	if ready != nil {
		ready(ln.Addr().String())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Run(ctx)
	}()
	if wrap != nil {
		err = b.ServeHandler(ctx, ln, wrap(b.Handler()))
	} else {
		err = b.Serve(ctx, ln)
	}
	wg.Wait()
	if err != nil {
		log.Error().Err(err).Msg("serve")
		return 1
	}
	log.Info().Msg("stopped")
	return 0
}
