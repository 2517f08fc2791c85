package bimplus

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
)

// BenchmarkConvergeConverged measures a convergence that finds nothing to do
// (the common case of a reconcile run): one GET per mapped project, roles cached.
func BenchmarkConvergeConverged(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.RateLimit, c.Burst = 1e9, 1000 })
	s := alice("Design Team", "Leads")
	rec, _, err := e.conn.Converge(context.Background(), s, connectors.Record{}, connectors.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.conn.Converge(context.Background(), s, rec, connectors.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDesired measures the desired-role computation for a user in 20 groups.
func BenchmarkDesired(b *testing.B) {
	groups := map[string][]Grant{}
	var names []string
	for i := range 50 {
		g := fmt.Sprintf("group-%02d", i)
		groups[g] = []Grant{{Project: fmt.Sprintf("p-%d", i%10), Role: []string{"Project_Viewer", "Project_Editor", "Project_Admin"}[i%3]}}
		if i < 20 {
			names = append(names, g)
		}
	}
	c := &connector{groups: groups}
	u := &connectors.User{Active: true, Email: "a@example.com", Groups: names}
	b.ReportAllocs()
	for b.Loop() {
		if w, _ := c.desired(u); len(w) != 10 {
			b.Fatal(len(w))
		}
	}
}

// BenchmarkConvergeNewMembers adds 1000 new team members to one project, one
// convergence each (the provisioning burst of a new tenant), and reports the
// team and project listings read per user. Each iteration is the whole burst.
func BenchmarkConvergeNewMembers(b *testing.B) {
	const n = 1000
	var teamGets, listGets, users float64
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, func(c *Config) { c.RateLimit, c.Burst = 1e9, 1000 })
		subjects := make([]connectors.Subject, n)
		for i := range subjects {
			s := alice("Design Team")
			s.ID = fmt.Sprintf("u-%d", i)
			s.User.ID, s.User.Email = s.ID, fmt.Sprintf("user%d@example.com", i)
			e.srv.AddTeamMember(s.User.Email)
			subjects[i] = s
		}
		b.StartTimer()
		for _, s := range subjects {
			if _, _, err := e.conn.Converge(context.Background(), s, connectors.Record{}, connectors.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		teamGets += float64(e.count("GET", "/v2/acme/members"))
		listGets += float64(e.count("GET", projAPath))
		users += n
		b.StartTimer()
	}
	b.ReportMetric(teamGets/users, "team-GETs/user")
	b.ReportMetric(listGets/users, "project-GETs/user")
}

// BenchmarkListingMemory fills one cached project listing of 100,000 members
// (each entry with its own strings, as decoded from the API) and reports the
// heap it keeps per member, strings included: the adapter's memory for
// project listings is this figure times the members of its mapped projects.
func BenchmarkListingMemory(b *testing.B) {
	const n = 100000
	var kept float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ms := make([]membership, n)
		for i := range ms {
			ms[i] = membership{
				Member: memberRef{ID: fmt.Sprintf("00000000-0000-4000-8000-%012x", i), Email: fmt.Sprintf("user%06d@example.com", i)},
				Role:   roleRef{ID: strings.Clone(fake.RoleProjectEditor), Name: strings.Clone("Project_Editor")},
			}
		}
		l := &listing{}
		l.fill(ms, time.Time{}, 1)
		ms = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(l)
		runtime.KeepAlive(ms)
	}
	b.ReportMetric(kept/float64(b.N)/n, "heap-bytes/member")
}
