package deploy

import (
	"encoding/json"
	"flag"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite monitoring/series.txt from the rules and the dashboard")

const (
	rulesFile     = "monitoring/alerts.yaml"
	dashboardFile = "monitoring/dashboard.json"
	seriesFile    = "monitoring/series.txt"
	pendingFile   = "monitoring/pending.txt"
)

// prometheusSynthesized are series Prometheus makes itself while scraping.
var prometheusSynthesized = []string{"up"}

// ruleFile is the Prometheus rule file format.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

var promql = parser.NewParser(parser.Options{})

// metricFamilies returns the metric families expr selects (a histogram's
// _bucket, _sum and _count series count as the histogram).
func metricFamilies(expr string) ([]string, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				name = m.Value
			}
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if strings.HasSuffix(name, "_seconds"+suffix) {
				name = strings.TrimSuffix(name, suffix)
			}
		}
		names = append(names, name)
		return nil
	})
	return names, nil
}

// grafanaVars replaces the dashboard's variables by values PromQL accepts.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$tenant", "acme", "$connector", "odm")

// labelValues matches a Grafana label_values(selector, label) query.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// referencedFamilies parses the rules and the dashboard, checks every query
// and returns the metric families they reference, sorted.
func referencedFamilies(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	add := func(where, expr string) {
		names, err := metricFamilies(expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, expr)
		}
		if len(names) == 0 {
			t.Errorf("%s selects no series: %s", where, expr)
		}
		for _, n := range names {
			seen[n] = true
		}
	}

	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	funcs := template.FuncMap{}
	for _, f := range []string{"humanize", "humanizeDuration", "humanizePercentage"} {
		funcs[f] = func(any) string { return "" }
	}
	alerts := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			where := rulesFile + ": " + r.Alert
			alerts++
			if r.Alert == "" {
				t.Errorf("%s: a rule without alert name", rulesFile)
			}
			add(where, r.Expr)
			if _, err := model.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", where, r.For, err)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", where, s)
			}
			for _, k := range []string{"summary", "description"} {
				text := r.Annotations[k]
				if text == "" {
					t.Errorf("%s: no %s", where, k)
				}
				// Prometheus defines these variables before expanding an annotation.
				const header = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
				if _, err := template.New(k).Funcs(funcs).Parse(header + text); err != nil {
					t.Errorf("%s: %s: %v", where, k, err)
				}
			}
		}
	}
	if alerts < 6 {
		t.Errorf("%d alert rules, want at least the six of the issue", alerts)
	}

	b, err = os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("%s: dashboard without uid or title", dashboardFile)
	}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardFile, p.Title)
		}
		for _, tg := range p.Targets {
			add(dashboardFile+": "+p.Title, grafanaVars.Replace(tg.Expr))
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition == "" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("%s: variable %s: %q is not label_values(selector, label)", dashboardFile, v.Name, v.Definition)
			continue
		}
		add(dashboardFile+": variable "+v.Name, grafanaVars.Replace(m[1]))
	}
	return slices.Sorted(maps.Keys(seen))
}

// readList reads a file of names, one per line ('#' starts a comment).
func readList(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l, _, _ = strings.Cut(l, "#"); strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// TestMonitoringSeriesList checks the rules and the dashboard parse and that
// monitoring/series.txt lists exactly the metric families they reference
// (go test -run MonitoringSeriesList -update rewrites it).
func TestMonitoringSeriesList(t *testing.T) {
	got := referencedFamilies(t)
	if *update {
		text := "# Metric families the alert rules and the Grafana dashboard reference.\n" +
			"# Generated by TestMonitoringSeriesList (-update); checked against a scrape by\n" +
			"# TestComposeConfigServes.\n" + strings.Join(got, "\n") + "\n"
		if err := os.WriteFile(seriesFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readList(t, seriesFile); !slices.Equal(got, want) {
		t.Errorf("%s is stale: the rules and the dashboard reference\n%s\n(run go test -run MonitoringSeriesList -update)", seriesFile, strings.Join(got, "\n"))
	}
	pending := readList(t, pendingFile)
	for _, p := range pending {
		if !slices.Contains(got, p) {
			t.Errorf("%s lists %s, which nothing references", pendingFile, p)
		}
	}
}

// checkScrape compares a scrape of a bridge that served SCIM requests,
// converged a user and received a webhook with the families the rules and
// the dashboard reference: each one is exported, or listed in
// monitoring/pending.txt as not exported yet (and then must not be).
func checkScrape(t *testing.T, scrape string) {
	t.Helper()
	tp := expfmt.NewTextParser(model.LegacyValidation)
	families, err := tp.TextToMetricFamilies(strings.NewReader(scrape))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	pending := readList(t, pendingFile)
	for _, name := range readList(t, seriesFile) {
		_, exported := families[name]
		switch {
		case slices.Contains(prometheusSynthesized, name):
		case exported && slices.Contains(pending, name):
			t.Errorf("%s is exported now: remove it from %s", name, pendingFile)
		case !exported && !slices.Contains(pending, name):
			t.Errorf("the rules or the dashboard use %s, which the bridge does not export", name)
		}
	}
	var missing []string
	for _, p := range pending {
		if _, ok := families[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Logf("series the monitoring needs and the bridge does not export yet (%s):\n  %s", pendingFile, strings.Join(missing, "\n  "))
	}
}
