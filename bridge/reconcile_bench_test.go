package bridge

// BenchmarkReconcile100kNoDrift measures one full reconciliation run of a large
// tenant that has nothing to repair: every user is already converged in the four
// downstream fakes, so the run must plan nothing and write nothing. It reports
// the run's wall time and the peak heap in use while it ran. Run:
//
//	go test -run '^$' -bench Reconcile100k -benchtime 1x ./bridge/
//
// -short measures 20,000 users only. Setting up 100,000 takes minutes: the
// ODM fake checks userName uniqueness by scanning all its users on every Seed.
//
// The fakes are seeded directly (not through the worker): two prototype users,
// one in a mapped group and one not, are converged through the real adapters,
// and every other user gets the same downstream objects and a sync record
// derived from its prototype's. The fakes run in the same process, so their
// state is part of the heap (reported apart as base-heap-MB) and their CPU part
// of the wall time.

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	subj "github.com/scim-bridge/scim-bridge/bridge/internal/subject"
	"github.com/scim-bridge/scim-bridge/bridge/internal/uuid"
	"github.com/scim-bridge/scim-bridge/connectors"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	scimfake "github.com/scim-bridge/scim-bridge/connectors/scim/fake"
	"github.com/scim-bridge/scim-bridge/store"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// rcBenchGroupEvery: every rcBenchGroupEvery-th user is in the mapped group
// (a Bimplus Project_Editor on P1).
const rcBenchGroupEvery = 100

func BenchmarkReconcile100kNoDrift(b *testing.B) {
	sizes := []int{20_000, 100_000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			f := rcBenchTenant(b, n)
			ctx := context.Background()
			var elapsed time.Duration
			var peak, base, alloc uint64
			for b.Loop() {
				b.StopTimer()
				before := rcWrites(f.ds)
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base = ms.HeapInuse
				allocBefore := ms.TotalAlloc
				stop := make(chan struct{})
				var peakRun atomic.Uint64
				var sampler sync.WaitGroup
				sampler.Go(func() {
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for {
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						if ms.HeapInuse > peakRun.Load() {
							peakRun.Store(ms.HeapInuse)
						}
						select {
						case <-stop:
							return
						case <-tick.C:
						}
					}
				})
				b.StartTimer()

				start := time.Now()
				plan, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{})
				elapsed = time.Since(start)

				b.StopTimer()
				close(stop)
				sampler.Wait()
				peak = max(peak, peakRun.Load())
				runtime.ReadMemStats(&ms)
				alloc = ms.TotalAlloc - allocBefore
				if err != nil {
					b.Fatalf("reconcile: %v", err)
				}
				if len(plan.Items) != 0 || len(plan.Errors) != 0 {
					b.Fatalf("a converged tenant has drift: %d items (first %v), errors %v", len(plan.Items), rcFirst(plan.Items), rcFirst(plan.Errors))
				}
				if want := 3*n + 1; plan.Checked != want {
					b.Fatalf("checked %d subjects, want %d", plan.Checked, want)
				}
				if d := rcWritesSince(f.ds, before); len(d) != 0 {
					b.Fatalf("a run without drift wrote downstream: %v", d)
				}
				b.StartTimer()
			}
			b.ReportMetric(elapsed.Seconds(), "s/run")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(base)/(1<<20), "base-heap-MB")
			b.ReportMetric(float64(alloc)/(1<<20), "alloc-MB/run")
			b.ReportMetric(float64(n)/elapsed.Seconds(), "users/s")
		})
	}
}

func rcFirst[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

// rcBenchTenant returns a bridge on a real Redis whose tenant acme has n users
// (userName user%06d, one email), every rcBenchGroupEvery-th of them in the
// Design Team, all converged downstream with their sync state recorded.
func rcBenchTenant(b *testing.B, n int) *fanEnv {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	ds := startDownstream(b)
	f := rcStart(b, redistest.Start(b), ds, rcConfig{})
	st := f.st
	ids := populateUsers(b, st, "acme", n)
	inGroup := func(i int) bool { return i%rcBenchGroupEvery == 0 }
	var members []any
	for i := range n {
		if inGroup(i) {
			members = append(members, map[string]any{"value": ids[i]})
		}
	}
	group := &store.Resource{ID: uuid.New(), Kind: store.KindGroup, Attrs: map[string]any{"displayName": groupDesign, "members": members}}
	if err := st.Create(ctx, "acme", group); err != nil {
		b.Fatalf("create group: %v", err)
	}
	populated := time.Since(start)

	conns := map[string]connectors.Connector{}
	for _, c := range f.b.tenants.Get("acme").Connectors {
		conns[c.Name()] = c
	}
	userConns := []string{connBIMData, connBimplus, connODM}
	subject := func(i int) connectors.Subject {
		var groups []store.GroupRef
		if inGroup(i) {
			groups = []store.GroupRef{{ID: group.ID, DisplayName: groupDesign}}
		}
		u := subj.User(&store.Resource{ID: ids[i], Kind: store.KindUser, Attrs: benchUserAttrs(i)}, groups)
		return connectors.Subject{Kind: connectors.SubjectUser, ID: ids[i], User: u}
	}
	put := func(c connectors.Connector, s connectors.Subject, subject string, rec connectors.Record) error {
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return st.PutSync(ctx, "acme", &store.SyncState{
			Connector: c.Name(), Subject: subject, Record: raw,
			AppliedHash: subj.DesiredHash(c, s), Status: store.SyncSynced,
		})
	}

	// The tenant's SSO connection and the two prototypes, through the adapters.
	tenant := connectors.Subject{Kind: connectors.SubjectTenant, ID: "acme"}
	rec, _, err := conns[connAuthress].Converge(ctx, tenant, connectors.Record{}, connectors.Options{})
	if err != nil {
		b.Fatalf("converge the tenant: %v", err)
	}
	if err := put(conns[connAuthress], tenant, store.WorkTenant+"|acme", rec); err != nil {
		b.Fatalf("record the tenant: %v", err)
	}
	type proto struct {
		recs   map[string]connectors.Record
		email  string
		bimID  string
		member string
		odm    scimfake.User
	}
	protos := map[bool]*proto{}
	for _, i := range []int{0, 1} {
		s := subject(i)
		p := &proto{recs: map[string]connectors.Record{}, email: s.User.Email}
		if inGroup(i) {
			p.member = ds.memberOf(p.email)
		}
		for _, name := range userConns {
			rec, _, err := conns[name].Converge(ctx, s, connectors.Record{}, connectors.Options{})
			if err != nil {
				b.Fatalf("converge prototype %d on %s: %v", i, name, err)
			}
			p.recs[name] = rec
			if err := put(conns[name], s, store.WorkUser+"|"+ids[i], rec); err != nil {
				b.Fatalf("record prototype %d: %v", i, err)
			}
		}
		bu, ok := ds.bimdata.User(p.email)
		if !ok {
			b.Fatalf("prototype %d has no BIMData user", i)
		}
		p.bimID = strconv.Itoa(bu.ID)
		if p.odm, ok = ds.odm.UserByName(s.User.UserName); !ok {
			b.Fatalf("prototype %d has no ODM user", i)
		}
		protos[inGroup(i)] = p
	}

	// Every other user: the prototype's downstream objects and records.
	var next atomic.Int64
	next.Store(2)
	var fail atomic.Value
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || fail.Load() != nil {
					return
				}
				s := subject(i)
				p := protos[inGroup(i)]
				bu := ds.bimdata.AddUser(bimdatafake.User{Email: s.User.Email})
				ou := p.odm
				ou.ID, ou.UserName, ou.ExternalID, ou.DisplayName = "", s.User.UserName, s.User.ExternalID, s.User.DisplayName
				ou = ds.odm.Seed(ou)
				member := ""
				if p.member != "" {
					member = ds.bimplus.AddTeamMember(s.User.Email)
					if err := ds.bimplus.SetMembership(projectP1, member, "Project_Editor"); err != nil {
						fail.Store(err)
						return
					}
				}
				repl := map[string]map[string]string{
					connBIMData: {p.email: s.User.Email, p.bimID: strconv.Itoa(bu.ID)},
					connBimplus: {p.email: s.User.Email, p.member: member},
					connODM:     {p.odm.ID: ou.ID, p.odm.UserName: s.User.UserName},
				}
				for _, name := range userConns {
					rec, err := rcSubstitute(p.recs[name], repl[name])
					if err == nil {
						err = put(conns[name], s, store.WorkUser+"|"+ids[i], rec)
					}
					if err != nil {
						fail.Store(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		b.Fatalf("seed: %v", err)
	}
	b.Logf("%d users: store populated in %v, downstream and sync state seeded in %v", n, populated.Round(time.Millisecond), (time.Since(start) - populated).Round(time.Millisecond))
	return f
}

// rcSubstitute returns rec with every string (map keys included) equal to a key
// of repl replaced by its value, in IDs and in the adapter's State.
func rcSubstitute(rec connectors.Record, repl map[string]string) (connectors.Record, error) {
	sub := func(s string) string {
		if v, ok := repl[s]; ok && s != "" {
			return v
		}
		return s
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case string:
			return sub(v)
		case []any:
			for i := range v {
				v[i] = walk(v[i])
			}
			return v
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, x := range v {
				out[sub(k)] = walk(x)
			}
			return out
		}
		return v
	}
	var out connectors.Record
	if rec.IDs != nil {
		out.IDs = map[string]string{}
		for k, v := range rec.IDs {
			out.IDs[sub(k)] = sub(v)
		}
	}
	if len(rec.State) > 0 {
		var state any
		if err := json.Unmarshal(rec.State, &state); err != nil {
			return out, fmt.Errorf("decode state: %w", err)
		}
		raw, err := json.Marshal(walk(state))
		if err != nil {
			return out, fmt.Errorf("encode state: %w", err)
		}
		out.State = raw
	}
	return out, nil
}
