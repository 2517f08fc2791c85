package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/store"
)

func explainCmd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "configuration file")
	adminURL := fs.String("url", "", "ask the running server at this base URL (token in SCIM_BRIDGE_ADMIN_TOKEN)")
	tenant := fs.String("tenant", "", "tenant (required)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: scim-bridge explain --tenant T [--config F | --url U] [--json] <userName | email | id | group displayName>")
		fs.PrintDefaults()
	}
	// The query may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	q := fs.Arg(0)
	if q != "" {
		if code, ok := parseFlags(fs, fs.Args()[1:]); !ok {
			return code
		}
	}
	if *tenant == "" || q == "" {
		fs.Usage()
		return 2
	}
	tg, err := resolveTarget(e, *configPath, *adminURL)
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge explain: %v\n", err)
		return 1
	}
	var rep bridge.ExplainReport
	if tg.admin != nil {
		err = tg.admin.call(ctx, "GET", "/admin/api/explain", url.Values{"tenant": {*tenant}, "q": {q}}, &rep)
	} else {
		err = withBridge(ctx, tg.cfg, func(b *bridge.Bridge) error {
			r, err := b.Explain(ctx, *tenant, q)
			if r != nil {
				rep = *r
			}
			return err
		})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge explain: %v\n", err)
		return 1
	}
	if *asJSON {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
		return 0
	}
	printExplain(e, &rep)
	return 0
}

func printExplain(e env, r *bridge.ExplainReport) {
	w := e.stdout
	fmt.Fprintf(w, "%s %s (%s) in tenant %s\n", r.Kind, r.Name, r.ID, r.Tenant)
	for _, a := range r.Also {
		fmt.Fprintf(w, "  the query also matches %s\n", a)
	}
	if r.Kind == string(store.KindUser) {
		names := make([]string, 0, len(r.Groups))
		for _, g := range r.Groups {
			names = append(names, g.DisplayName)
		}
		if len(names) == 0 {
			names = []string{"none"}
		}
		fmt.Fprintf(w, "groups: %s\n", strings.Join(names, ", "))
	} else {
		fmt.Fprintf(w, "members: %d\n", r.Members)
	}
	if r.Note != "" {
		fmt.Fprintln(w, r.Note)
	}
	switch {
	case r.Queue.Leased:
		fmt.Fprintln(w, "queue: being converged now")
	case r.Queue.Queued:
		fmt.Fprintf(w, "queue: due %s\n", r.Queue.Due.UTC().Format("2006-01-02T15:04:05Z"))
	default:
		fmt.Fprintln(w, "queue: not queued")
	}
	keys := make([]string, 0, len(r.Resource))
	for k := range r.Resource {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "\nstored resource:")
	for _, k := range keys {
		v, _ := json.Marshal(r.Resource[k])
		fmt.Fprintf(w, "  %s: %s\n", k, v)
	}
	if len(r.Connectors) > 0 {
		fmt.Fprintln(w, "\nconnectors:")
		for _, c := range r.Connectors {
			fmt.Fprintf(w, "  %s: %s — %s\n", c.Connector, c.Verdict, c.Why)
			if c.DesiredHash != "" || c.AppliedHash != "" {
				fmt.Fprintf(w, "    desired %s, applied %s, attempts %d\n", short(c.DesiredHash), orDash(short(c.AppliedHash)), c.Attempts)
			}
			if c.ErrorClass != "" {
				fmt.Fprintf(w, "    error class %s\n", c.ErrorClass)
			}
			if !c.NextRetry.IsZero() {
				fmt.Fprintf(w, "    next retry %s: %s\n", c.NextRetry.UTC().Format("2006-01-02T15:04:05Z"), c.RetryReason)
			}
			if !c.HeldUntil.IsZero() {
				fmt.Fprintf(w, "    connector held by its downstream until %s\n", c.HeldUntil.UTC().Format("2006-01-02T15:04:05Z"))
			}
			for k, v := range c.Downstream {
				fmt.Fprintf(w, "    downstream %s = %s\n", k, v)
			}
			if len(c.Record) > 0 {
				fmt.Fprintf(w, "    record %s\n", c.Record)
			}
		}
	}
	fmt.Fprintln(w, "\nlast audit entries:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, a := range r.Audit {
		what := strings.TrimSpace(a.Method + " " + a.Change)
		if a.Kind != store.AuditSCIM {
			what = strings.TrimSpace(a.Connector + " " + a.Action)
		}
		outcome := a.Outcome
		if outcome == "" {
			outcome = fmt.Sprint(a.Status)
		}
		detail := strings.TrimSpace(a.ErrorClass + " " + oneLine(a.Error))
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", a.Time.UTC().Format("2006-01-02T15:04:05.000Z"), a.Kind, what, outcome, detail)
	}
	if len(r.Audit) == 0 {
		fmt.Fprintln(tw, "  none")
	}
	_ = tw.Flush()
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
