package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/bridge/config"
)

// drainTimeout bounds how long a one-shot reconcile waits for the repairs it
// queued to converge.
const drainTimeout = 5 * time.Minute

func reconcileCmd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "configuration file")
	adminURL := fs.String("url", "", "ask the running server at this base URL (token in SCIM_BRIDGE_ADMIN_TOKEN)")
	tenant := fs.String("tenant", "", "only this tenant (default: all)")
	connector := fs.String("connector", "", "only this connector")
	dryRun := fs.Bool("dry-run", false, "print the plan, change nothing")
	force := fs.Bool("force", false, "accept a plan above the deletion threshold")
	asJSON := fs.Bool("json", false, "machine-readable output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	tg, err := resolveTarget(e, *configPath, *adminURL)
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge reconcile: %v\n", err)
		return 1
	}
	opts := bridge.ReconcileOptions{Connector: *connector, DryRun: *dryRun, Force: *force, Trigger: "cli"}
	var plans []*bridge.Plan
	failed := false
	if tg.admin != nil {
		if *tenant == "" {
			fmt.Fprintln(e.stderr, "scim-bridge reconcile: --tenant is required when asking a running server")
			return 2
		}
		var p bridge.Plan
		q := url.Values{"tenant": {*tenant}, "connector": {*connector},
			"dry_run": {strconv.FormatBool(*dryRun)}, "force": {strconv.FormatBool(*force)}}
		err = tg.admin.call(ctx, "POST", "/admin/reconcile", q, &p)
		if p.Tenant != "" {
			plans = append(plans, &p)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "scim-bridge reconcile: %v\n", err)
			failed = true
		}
	} else {
		err = withBridge(ctx, tg.cfg, func(b *bridge.Bridge) error {
			var err error
			plans, failed, err = reconcileDirect(ctx, e, b, tg.cfg, *tenant, opts)
			return err
		})
		if err != nil {
			fmt.Fprintf(e.stderr, "scim-bridge reconcile: %v\n", err)
			failed = true
		}
	}
	if *asJSON {
		out, _ := json.MarshalIndent(plans, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
	} else {
		for _, p := range plans {
			printPlan(e, p)
		}
	}
	for _, p := range plans {
		if p.Refused || len(p.Errors) > 0 {
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

// reconcileDirect runs the reconciliation against Redis itself, then — unless a
// dry run — runs sync workers until the queued repairs converged, and reports
// whether any drift is left.
func reconcileDirect(ctx context.Context, e env, b *bridge.Bridge, cfg *config.Config, tenant string, opts bridge.ReconcileOptions) ([]*bridge.Plan, bool, error) {
	progress := newProgress(e)
	opts.Progress = progress.update
	var plans []*bridge.Plan
	failed := false
	for _, tc := range cfg.Tenants {
		if tenant != "" && tc.ID != tenant {
			continue
		}
		p, err := b.ReconcileLocked(ctx, tc.ID, opts)
		progress.done()
		if p != nil {
			plans = append(plans, p)
		}
		if err != nil {
			if errors.Is(err, bridge.ErrTooManyDeletions) {
				fmt.Fprintf(e.stderr, "tenant %s: %v\n", tc.ID, err)
				failed = true
				continue
			}
			return plans, true, err
		}
	}
	if tenant != "" && len(plans) == 0 && !failed {
		return nil, true, fmt.Errorf("unknown tenant %q", tenant)
	}
	if opts.DryRun {
		return plans, failed, nil
	}
	pending := 0
	for _, p := range plans {
		pending += len(p.Items)
	}
	if pending == 0 {
		return plans, failed, nil
	}
	// Converge what the plans queued, with this process's own workers.
	runCtx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Run(runCtx)
	}()
	for _, p := range plans {
		if !b.WaitRepaired(runCtx, p) {
			failed = true
		}
	}
	b.WaitReleased(runCtx, plans)
	cancel()
	wg.Wait()
	return plans, failed, nil
}

func printPlan(e env, p *bridge.Plan) {
	mode := "applied"
	if p.DryRun {
		mode = "dry run, nothing changed"
	}
	fmt.Fprintf(e.stdout, "tenant %s (%s): %d subjects checked, %d changes, %d deletions\n", p.Tenant, mode, p.Checked, len(p.Items), p.Deletions)
	for _, it := range p.Items {
		fmt.Fprintf(e.stdout, "  %-10s %-8s %-40s %s (%s)\n", it.Connector, it.Op, it.Object, it.Subject, it.Reason)
	}
	if p.Refused {
		fmt.Fprintf(e.stdout, "  REFUSED: more deletions than the threshold; re-run with --force to apply\n")
	}
	for _, er := range p.Errors {
		fmt.Fprintf(e.stdout, "  error: %s\n", oneLine(er))
	}
}

// progress draws one line per connector on a terminal; elsewhere it is silent.
type progress struct {
	e    env
	tty  bool
	mu   sync.Mutex
	last string
}

func newProgress(e env) *progress {
	p := &progress{e: e}
	if f, ok := e.stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(connector string, done int) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != "" && p.last != connector {
		fmt.Fprintln(p.e.stderr)
	}
	p.last = connector
	// The total is not known up front (users are streamed): the bar cycles.
	bar := strings.Repeat("#", done/100%30+1)
	fmt.Fprintf(p.e.stderr, "\r%-12s [%-30s] %d checked", connector, bar, done)
}

func (p *progress) done() {
	if p.tty && p.last != "" {
		fmt.Fprintln(p.e.stderr)
		p.last = ""
	}
}
