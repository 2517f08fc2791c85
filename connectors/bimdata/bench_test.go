package bimdata

import (
	"context"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
)

// BenchmarkConvergeConverged measures the steady state the reconciler hits most:
// an active user already converged, with the invitation list cached. It reports
// downstream requests per convergence.
func BenchmarkConvergeConverged(b *testing.B) {
	e := newEnv(b, envOpts{cfg: func(c *Config) { c.RateLimit = 1e9; c.Burst = 1 << 30 }})
	e.srv.AddInvitation(fake.Invitation{Email: "someone@example.com"})
	s := userSubject(alice(true), "u1")
	prev := stateRecord(userState{Email: "alice@example.com", Emails: aliceEmails, Status: statePresent})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.conn.Converge(context.Background(), s, prev, connectors.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(e.srv.Requests()))/float64(b.N), "requests/op")
}

// BenchmarkProvisionNew measures provisioning a new user with one pending
// invitation against the in-process fake (create + accept over loopback HTTP).
func BenchmarkProvisionNew(b *testing.B) {
	e := newEnv(b, envOpts{cfg: func(c *Config) { c.RateLimit = 1e9; c.Burst = 1 << 30 }})
	users := bulkUsers(b.N)
	for i := range users {
		e.srv.AddInvitation(fake.Invitation{Email: users[i].Email})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := e.conn.Converge(context.Background(), userSubject(&users[i], users[i].ID), connectors.Record{}, connectors.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(e.srv.Requests()))/float64(b.N), "requests/op")
}
