package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/bridge/config"
	"github.com/scim-bridge/scim-bridge/store"
)

// withBridge opens the store and the configured bridge (no workers) for a
// command that reads Redis directly.
func withBridge(ctx context.Context, cfg *config.Config, fn func(*bridge.Bridge) error) error {
	log := zerolog.Nop()
	st, err := store.Open(ctx, store.Options{URL: cfg.Redis, Logger: log})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	b, err := buildBridge(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	// Close writes what the audit recorder still buffers (a retry's or a
	// reconciliation's entry) before the store closes.
	defer b.Close()
	return fn(b)
}

func statusCmd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "configuration file")
	adminURL := fs.String("url", "", "ask the running server at this base URL (token in SCIM_BRIDGE_ADMIN_TOKEN)")
	tenant := fs.String("tenant", "", "only this tenant")
	asJSON := fs.Bool("json", false, "machine-readable output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	tg, err := resolveTarget(e, *configPath, *adminURL)
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge status: %v\n", err)
		return 1
	}
	var st []bridge.TenantStatus
	if tg.admin != nil {
		err = tg.admin.call(ctx, "GET", "/admin/status", url.Values{"tenant": {*tenant}}, &st)
	} else {
		err = withBridge(ctx, tg.cfg, func(b *bridge.Bridge) error {
			var err error
			st, err = b.Status(ctx, *tenant)
			return err
		})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge status: %v\n", err)
		return 1
	}
	if *asJSON {
		out, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
		return 0
	}
	printStatus(e, st)
	return 0
}

func printStatus(e env, st []bridge.TenantStatus) {
	for _, t := range st {
		fmt.Fprintf(e.stdout, "tenant %s: %d pending", t.Tenant, t.Pending)
		if t.OldestPending != "" {
			fmt.Fprintf(e.stdout, " (oldest %s)", t.OldestPending)
		}
		fmt.Fprintf(e.stdout, ", %d in progress\n", t.Leased)
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CONNECTOR\tSYNCED\tPENDING\tRETRYING\tDEAD")
		for _, c := range t.Connectors {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\n", c.Name, c.Counts[store.SyncSynced], c.Counts[store.SyncPending],
				c.Counts[store.SyncRetrying], c.Counts[store.SyncDead])
		}
		_ = tw.Flush()
		printThrottles(e, t)
		printCredentials(e, t.Credentials)
		for _, c := range t.Connectors {
			for _, le := range c.LastErrors {
				fmt.Fprintf(e.stdout, "  %s %s %s: %s\n", c.Name, le.Status, le.Subject, oneLine(le.Error))
			}
		}
	}
}

// printThrottles prints the connectors' throttles: held until when (every
// replica), the concurrency limit and pace (of the answering process) and the
// 429s every replica has seen.
func printThrottles(e env, t bridge.TenantStatus) {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CONNECTOR\tHELD UNTIL\tCONCURRENCY\tPACE/S\t429S")
	rows := 0
	for _, c := range t.Connectors {
		th := c.Throttle
		if th == nil {
			continue
		}
		held, pace := "-", "-"
		if !th.HeldUntil.IsZero() {
			held = th.HeldUntil.UTC().Format(time.RFC3339)
		}
		if th.Pace > 0 {
			pace = strconv.FormatFloat(th.Pace, 'f', 1, 64)
			if th.Fixed {
				pace += " (fixed)"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d/%d\t%s\t%d\n", c.Name, held, th.ConcurrencyLimit, th.MaxConcurrency, pace, th.RateLimited)
		rows++
	}
	if rows > 0 {
		_ = tw.Flush()
	}
}

// printCredentials lists a tenant's credentials: method, name, validity
// window and state (never a secret).
func printCredentials(e env, creds []bridge.CredentialStatus) {
	if len(creds) == 0 {
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CREDENTIAL\tMETHOD\tNOT BEFORE\tEXPIRES\tSTATE")
	for _, c := range creds {
		nb, ex := "-", "-"
		if c.NotBefore != nil {
			nb = c.NotBefore.Format(time.RFC3339)
		}
		if c.Expires != nil {
			ex = c.Expires.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Name, c.Method, nb, ex, c.State)
	}
	_ = tw.Flush()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func retryCmd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("retry", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "configuration file")
	adminURL := fs.String("url", "", "ask the running server at this base URL (token in SCIM_BRIDGE_ADMIN_TOKEN)")
	tenant := fs.String("tenant", "", "tenant (required)")
	connector := fs.String("connector", "", "connector (required)")
	subject := fs.String("subject", "", `one subject, e.g. "User|<id>"; default all dead letters of the connector`)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *tenant == "" || *connector == "" {
		fmt.Fprintln(e.stderr, "scim-bridge retry: --tenant and --connector are required")
		return 2
	}
	tg, err := resolveTarget(e, *configPath, *adminURL)
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge retry: %v\n", err)
		return 1
	}
	n := 0
	if tg.admin != nil {
		var out map[string]int
		err = tg.admin.call(ctx, "POST", "/admin/retry", url.Values{"tenant": {*tenant}, "connector": {*connector}, "subject": {*subject}}, &out)
		n = out["requeued"]
	} else {
		err = withBridge(ctx, tg.cfg, func(b *bridge.Bridge) error {
			var err error
			n, err = b.Replay(ctx, *tenant, *connector, *subject)
			return err
		})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge retry: %v\n", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "re-queued %d subject(s) of %s/%s\n", n, *tenant, *connector)
	return 0
}
