package bridge

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors/bimplus"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// benchProvisionUsers is the volume of one BenchmarkProvision10kUsers run.
const benchProvisionUsers = 10000

// benchProvisionClients is the number of concurrent SCIM clients (an IdP pushes
// with a few connections).
const benchProvisionClients = 8

// BenchmarkProvision10kUsers provisions 10,000 users through the SCIM endpoint
// (POST over HTTP from a few concurrent clients) into the four downstream fakes
// (no injected latency) and reports the end-to-end rate, from the first POST to
// every connector synced, and the downstream calls per user of each connector
// (from the fakes' request logs); posted-users/s is the rate of the SCIM POSTs
// alone. Each iteration is one full run of 10,000
// users, independent of b.N: run it with -benchtime=1x.
//
//	go test -run '^$' -bench Provision -benchtime 1x -count 3 ./bridge/
//
// The -groups variants (see benchProvisionGroups) then add every user to a
// mapped SCIM group, so that the Bimplus connector assigns project roles too.
func BenchmarkProvision10kUsers(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchProvision(b, "") })
	b.Run("redis", func(b *testing.B) { benchProvision(b, redistest.Start(b)) })
	b.Run("embedded-groups", func(b *testing.B) { benchProvisionGroups(b, "") })
	b.Run("redis-groups", func(b *testing.B) { benchProvisionGroups(b, redistest.Start(b)) })
}

func benchProvision(b *testing.B, redisURL string) {
	const n = benchProvisionUsers
	var (
		elapsed, ingest time.Duration
		calls           = map[string]float64{}
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ds := startDownstream(b)
		f := newFanout(b, redisDB(redisURL, i%16), ds, fanoutConfig{})
		if redisURL != "" {
			if err := f.st.Client().FlushDB(context.Background()).Err(); err != nil {
				b.Fatalf("flush: %v", err)
			}
		}
		f.run(b)
		// The tenant subject converges at start; wait for it so that the run
		// measures user provisioning only.
		eventually(b, 10*time.Second, func() error { return f.allSynced(b, map[string]int{connAuthress: 1}) })
		c := newSCIMClient(f.srv, benchProvisionClients)
		b.StartTimer()

		start := time.Now()
		if _, err := provisionConcurrently(context.Background(), func(int) *scimClient { return c }, n, benchProvisionClients, nil); err != nil {
			b.Fatalf("provision: %v", err)
		}
		ingest += time.Since(start)
		want := map[string]int{connBIMData: n, connBimplus: n, connODM: n, connAuthress: 1}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			err := f.allSynced(b, want)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("not converged: %v", err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		elapsed += time.Since(start)

		b.StopTimer()
		for name, r := range ds.requests() {
			calls[name] += float64(r) / n
		}
		if dups := ds.duplicates(); dups[connBIMData]+dups[connBimplus]+dups[connAuthress]+dups[connODM] != 0 {
			b.Errorf("duplicate writes: %v", dups)
		}
		f.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "users/s")
	// The SCIM side alone: the rate at which the POSTs were answered.
	b.ReportMetric(float64(n*b.N)/ingest.Seconds(), "posted-users/s")
	for _, name := range allConnectors {
		b.ReportMetric(calls[name]/float64(b.N), fmt.Sprintf("calls/user-%s", name))
	}
}

// Shape of the groups variant: benchGroups SCIM groups of
// benchProvisionUsers/benchGroups members each (user i joins group i%benchGroups),
// filled by PATCHes of benchGroupBatch members, as Entra and Okta push them.
const (
	benchGroups     = 100
	benchGroupBatch = 50
)

// benchGroupRoles are the Bimplus roles the generated group mappings cycle through.
var benchGroupRoles = []string{"Project_Viewer", "Project_Editor", "Project_Admin"}

// benchGroup is one SCIM group of the groups variant, its id once created, and
// the Bimplus project role its members get.
type benchGroup struct {
	name, id      string
	project, role string
}

// benchGroupPlan maps benchGroups groups to Bimplus project roles on ds (before
// the adapters are opened): the fixture's "Design Team" and "Admins" (both on
// P1, as startDownstream maps them) and generated groups, each mapped to a
// project of its own so that no project listing grows past a few hundred members.
func benchGroupPlan(tb testing.TB, ds *downstream) []benchGroup {
	tb.Helper()
	var out []benchGroup
	for _, name := range []string{groupDesign, groupAdmins} {
		grants := ds.groups[name]
		if len(grants) != 1 {
			tb.Fatalf("group %q: want one fixture grant, have %v", name, grants)
		}
		out = append(out, benchGroup{name: name, project: grants[0].Project, role: grants[0].Role})
	}
	for g := len(out); g < benchGroups; g++ {
		bg := benchGroup{
			name:    fmt.Sprintf("Team %03d", g),
			project: fmt.Sprintf("7e57b0c4-0000-4000-8000-%012d", g),
			role:    benchGroupRoles[g%len(benchGroupRoles)],
		}
		ds.addGroupMapping(bg.name, bimplus.Grant{Project: bg.project, Role: bg.role})
		ds.bimplus.AddProject(bg.project)
		out = append(out, bg)
	}
	return out
}

// benchProvisionGroups is the groups variant of benchProvision: every user is a
// member of the Bimplus team (seeded before the run), and the IdP, after
// creating the users, creates benchGroups mapped groups and fills them with
// group PATCHes ({"op":"add","path":"members"} of benchGroupBatch members). The
// run is measured from the first POST until every connector is synced and the
// Bimplus fake holds exactly the mapped role of every user. scim-users/s is the
// rate of the SCIM requests alone (user POSTs, group POSTs and PATCHes).
func benchProvisionGroups(b *testing.B, redisURL string) {
	benchProvisionGroupsN(b, redisURL, benchProvisionUsers, provisionHooks{})
}

// provisionHooks let a benchmark observe a provisioning run: start just before
// the first SCIM request, converged once every connector is synced (before the
// bridge stops). Either may be nil.
type provisionHooks struct {
	start     func()
	converged func(f *fanEnv)
	// plan, when set, replaces benchGroupPlan.
	plan func(tb testing.TB, ds *downstream) []benchGroup
}

// benchProvisionGroupsN is benchProvisionGroups for n users.
func benchProvisionGroupsN(b *testing.B, redisURL string, n int, hooks provisionHooks) {
	ctx := context.Background()
	var (
		elapsed, ingest time.Duration
		calls           = map[string]float64{}
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ds := startDownstream(b)
		plan := benchGroupPlan
		if hooks.plan != nil {
			plan = hooks.plan
		}
		groups := plan(b, ds)
		for u := 0; u < n; u++ {
			ds.bimplus.AddTeamMember(fanEmail(u))
		}
		f := newFanout(b, redisDB(redisURL, i%16), ds, fanoutConfig{})
		if redisURL != "" {
			if err := f.st.Client().FlushDB(ctx).Err(); err != nil {
				b.Fatalf("flush: %v", err)
			}
		}
		f.run(b)
		eventually(b, 10*time.Second, func() error { return f.allSynced(b, map[string]int{connAuthress: 1}) })
		c := newSCIMClient(f.srv, benchProvisionClients)
		b.StartTimer()

		if hooks.start != nil {
			hooks.start()
		}
		start := time.Now()
		ids, err := provisionConcurrently(ctx, func(int) *scimClient { return c }, n, benchProvisionClients, nil)
		if err != nil {
			b.Fatalf("provision: %v", err)
		}
		if err := createBenchGroups(ctx, c, groups); err != nil {
			b.Fatalf("create groups: %v", err)
		}
		if err := fillBenchGroups(ctx, c, groups, ids); err != nil {
			b.Fatalf("fill groups: %v", err)
		}
		ingest += time.Since(start)
		want := map[string]int{connBIMData: n, connBimplus: n, connODM: n, connAuthress: 1}
		converged := func() error {
			if w := ds.bimplus.Writes(); w < n {
				return fmt.Errorf("bimplus: %d of %d memberships written", w, n)
			}
			if err := f.allSynced(b, want); err != nil {
				return err
			}
			return checkBimplusRoles(ds, groups, n)
		}
		deadline := time.Now().Add(max(1, time.Duration(n/benchProvisionUsers)) * 5 * time.Minute)
		for {
			err := converged()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("not converged: %v", err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		elapsed += time.Since(start)
		if hooks.converged != nil {
			hooks.converged(f)
		}

		b.StopTimer()
		for name, r := range ds.requests() {
			calls[name] += float64(r) / float64(n)
		}
		b.Logf("bimplus requests: %v", bimplusRequestMix(ds))
		if dups := ds.duplicates(); dups[connBIMData]+dups[connBimplus]+dups[connAuthress]+dups[connODM] != 0 {
			b.Errorf("duplicate writes: %v", dups)
		}
		if got := len(ds.bimdata.Users()); got != n {
			b.Errorf("bimdata: %d users, want %d", got, n)
		}
		if got := len(ds.odm.Users()); got != n {
			b.Errorf("odm: %d users, want %d", got, n)
		}
		f.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "users/s")
	b.ReportMetric(float64(n*b.N)/ingest.Seconds(), "scim-users/s")
	for _, name := range allConnectors {
		b.ReportMetric(calls[name]/float64(b.N), fmt.Sprintf("calls/user-%s", name))
	}
}

// createBenchGroups POSTs every group without members, from
// benchProvisionClients goroutines, and records the ids in groups.
func createBenchGroups(ctx context.Context, c *scimClient, groups []benchGroup) error {
	return forEachGroup(len(groups), func(g int) error {
		var out struct {
			ID string `json:"id"`
		}
		if err := c.send(ctx, http.MethodPost, "/Groups", scimGroup(groups[g].name), http.StatusCreated, &out); err != nil {
			return err
		}
		if out.ID == "" {
			return fmt.Errorf("group %q created without an id", groups[g].name)
		}
		groups[g].id = out.ID
		return nil
	})
}

// fillBenchGroups adds user i (ids[i]) to group i%len(groups) with PATCHes of
// benchGroupBatch members; one goroutine sends all the PATCHes of a group, in
// order, as an IdP does.
func fillBenchGroups(ctx context.Context, c *scimClient, groups []benchGroup, ids []string) error {
	return forEachGroup(len(groups), func(g int) error {
		var members []string
		for i := g; i < len(ids); i += len(groups) {
			members = append(members, ids[i])
		}
		for from := 0; from < len(members); from += benchGroupBatch {
			batch := members[from:min(from+benchGroupBatch, len(members))]
			body := scimPatch(addMembersOp(batch...))
			if err := c.send(ctx, http.MethodPatch, "/Groups/"+groups[g].id, body, http.StatusNoContent, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// forEachGroup runs fn for 0..n-1 from benchProvisionClients goroutines and
// returns the first error.
func forEachGroup(n int, fn func(g int) error) error {
	errc := make(chan error, benchProvisionClients)
	var wg sync.WaitGroup
	for w := 0; w < benchProvisionClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := w; g < n; g += benchProvisionClients {
				if err := fn(g); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// checkBimplusRoles reports nil when the Bimplus fake holds exactly the
// memberships of the plan: user i with the role of group i%len(groups) on its
// project, and nothing else on any mapped project or on P2.
func checkBimplusRoles(ds *downstream, groups []benchGroup, n int) error {
	projects := []string{projectP2}
	for _, g := range groups {
		projects = append(projects, g.project)
	}
	slices.Sort(projects)
	projects = slices.Compact(projects)
	have := map[string]string{} // project|email → role name
	total := 0
	for _, p := range projects {
		for _, m := range ds.bimplus.Memberships(p) {
			have[p+"|"+strings.ToLower(m.Member.Email)] = m.Role.Name
			total++
		}
	}
	var wrong []string
	bad := 0
	for i := 0; i < n; i++ {
		g := groups[i%len(groups)]
		if got := have[g.project+"|"+fanEmail(i)]; got != g.role {
			bad++
			if len(wrong) < 3 {
				wrong = append(wrong, fmt.Sprintf("%s on %s: %q, want %q", fanEmail(i), g.project, got, g.role))
			}
		}
	}
	if bad > 0 || total != n {
		return fmt.Errorf("bimplus: %d memberships (want %d), %d users without their role, e.g. %s", total, n, bad, strings.Join(wrong, "; "))
	}
	return nil
}

// bimplusRequestMix counts the Bimplus fake's requests by method, route and,
// when not 2xx, status.
func bimplusRequestMix(ds *downstream) map[string]int {
	out := map[string]int{}
	for _, r := range ds.bimplus.Requests() {
		route := "other"
		switch {
		case strings.HasSuffix(r.Path, "/roles"):
			route = "roles"
		case strings.Contains(r.Path, "/projects/"):
			route = "project-members"
		case strings.HasSuffix(r.Path, "/members"):
			route = "team-members"
		}
		key := r.Method + " " + route
		if r.Status/100 != 2 {
			key += fmt.Sprintf(" %d", r.Status)
		}
		out[key]++
	}
	return out
}

// BenchmarkLargeMappedGroup is one "All employees" group mapped to a Bimplus
// project: LARGE_MAPPED_N users (default 20,000; the figure is
// 100,000) are provisioned, the group is created and filled by PATCHes of 50,
// and the run ends when every connector has synced every user and the Bimplus
// project holds exactly one membership per user. It fails on any duplicate
// downstream write and reports bimplus-writes/member (1 when every member
// converged once) and the peak Go heap during the run (the fakes included).
//
//	LARGE_MAPPED_N=100000 go test -run '^$' -bench LargeMappedGroup/redis -benchtime 1x -timeout 60m ./bridge/
func BenchmarkLargeMappedGroup(b *testing.B) {
	n := 20000
	if v := os.Getenv("LARGE_MAPPED_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("LARGE_MAPPED_N=%q: want a positive number", v)
		}
	}
	run := func(b *testing.B, redisURL string) {
		var (
			writes     int
			peak       atomic.Uint64
			stop, done chan struct{}
		)
		hooks := provisionHooks{
			plan: func(tb testing.TB, ds *downstream) []benchGroup {
				g := benchGroup{name: "All employees", project: "7e57b0c4-0000-4000-8000-a11e00000000", role: benchGroupRoles[1]}
				ds.addGroupMapping(g.name, bimplus.Grant{Project: g.project, Role: g.role})
				ds.bimplus.AddProject(g.project)
				return []benchGroup{g}
			},
			start: func() {
				stop, done = make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					var ms runtime.MemStats
					for {
						runtime.ReadMemStats(&ms)
						if ms.HeapInuse > peak.Load() {
							peak.Store(ms.HeapInuse)
						}
						select {
						case <-stop:
							return
						case <-time.After(100 * time.Millisecond):
						}
					}
				}()
			},
			converged: func(f *fanEnv) {
				close(stop)
				<-done
				writes += f.ds.bimplus.Writes()
			},
		}
		benchProvisionGroupsN(b, redisURL, n, hooks)
		b.ReportMetric(float64(writes)/float64(n*b.N), "bimplus-writes/member")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		if writes != n*b.N {
			b.Errorf("bimplus: %d membership writes for %d members, want one each", writes, n)
		}
	}
	b.Run("embedded", func(b *testing.B) { run(b, "") })
	b.Run("redis", func(b *testing.B) { run(b, redistest.Start(b)) })
}
