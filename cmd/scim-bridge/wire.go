package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/config"
	"github.com/scim-bridge/scim-bridge/bridge/metrics"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/registry"
	"github.com/scim-bridge/scim-bridge/store"
)

// loadConfig reads FILE, or — without one — builds the configuration from the
// environment alone.
func loadConfig(e env, path string) (*config.Config, error) {
	if path == "" {
		path = e.getenv("SCIM_BRIDGE_CONFIG")
	}
	if path == "" {
		return config.LoadBytes("(environment)", nil, e.getenv, registry.Builtin())
	}
	return config.Load(path, e.getenv, registry.Builtin())
}

// newLogger builds the process logger from the log keys.
func newLogger(w io.Writer, lc config.Log) zerolog.Logger {
	level, err := zerolog.ParseLevel(lc.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if lc.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// randomToken returns a fresh 256-bit token, hex-encoded.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// buildBridge opens every tenant's connectors on st and builds the bridge.
func buildBridge(ctx context.Context, cfg *config.Config, st *store.Store, log zerolog.Logger) (*bridge.Bridge, error) {
	m := metrics.New()
	opts := bridge.Options{
		LocationProxies:     cfg.LocationPrefixes(),
		CursorKey:           []byte(cfg.CursorSecret),
		CursorTimeout:       time.Duration(cfg.CursorTimeout),
		BulkMaxOperations:   cfg.BulkMaxOperations,
		BulkMaxPayloadBytes: cfg.BulkMaxPayloadBytes,
		Metrics:             m,
		Store:               st,
		Logger:              log,
		PublicURL:           cfg.PublicURL,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		MaxResults:          cfg.MaxResults,
		Workers:             cfg.Workers,
		AdminTokens:         cfg.AdminCredentials(),
		Limiter: auth.NewLimiter(auth.LimiterOptions{
			MaxFailures: cfg.AuthLimit.MaxFailures,
			Window:      time.Duration(cfg.AuthLimit.Window),
			Exempt:      cfg.AuthLimit.ExemptPrefixes(),
		}),
		TrustedProxies: cfg.AuthLimit.ProxyPrefixes(),
		AdminReadToken: cfg.AdminReadToken,
		Audit: bridge.AuditOptions{
			MaxLen: cfg.Audit.MaxLen, MaxAge: time.Duration(cfg.Audit.MaxAge), RedactPersonal: cfg.Audit.RedactPersonal,
		},
		MaxConcurrentRequests: cfg.MaxConcurrentRequests,
		// Behind a proxy that ends TLS the bridge sees plain HTTP: an https
		// public_url says the console is reached over TLS all the same.
		AdminSecureCookie: strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://"),
	}
	for _, tc := range cfg.Tenants {
		to := bridge.TenantOptions{
			ID:                tc.ID,
			Credentials:       tc.Credentials,
			ReconcileEvery:    time.Duration(tc.ReconcileEvery),
			DeletionThreshold: tc.DeletionThreshold,
			WebhookSecrets:    map[string]string{},
			Settle:            time.Duration(tc.Settle),
			SettleMax:         time.Duration(tc.SettleMax),
			Throttles:         map[string]connectors.ThrottleReporter{},
		}
		var err error
		if to.UserExtensions, to.GroupExtensions, err = tc.Extensions(); err != nil {
			return nil, fmt.Errorf("build bridge: %w", err)
		}
		dir := bridge.NewDirectory(st, tc.ID)
		for _, cc := range tc.Connectors {
			deps := connectors.Deps{
				Tenant:      tc.ID,
				Directory:   dir,
				ObserveHTTP: m.Downstream(cc.Name),
				Logger:      log.With().Str("tenant", tc.ID).Str("connector", cc.Name).Logger(),
			}
			if cb, ok := cc.Config.(connectors.CommonConfig); ok {
				th := bridge.NewThrottle(st, tc.ID, cb.Common())
				deps.Throttle, to.Throttles[cc.Name] = th, th
			}
			c, err := cc.Config.Open(ctx, deps)
			if err != nil {
				return nil, fmt.Errorf("tenant %s: open connector %s (line %d): %w", tc.ID, cc.Name, cc.Line, err)
			}
			to.Connectors = append(to.Connectors, c)
			if cb, ok := cc.Config.(connectors.CommonConfig); ok && cb.Common().WebhookSecret != "" {
				to.WebhookSecrets[cc.Name] = cb.Common().WebhookSecret
			}
		}
		opts.Tenants = append(opts.Tenants, to)
	}
	b, err := bridge.New(opts)
	if err != nil {
		return nil, fmt.Errorf("build bridge: %w", err)
	}
	return b, nil
}
