package authress_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	"github.com/scim-bridge/scim-bridge/connectors/authress/fake"
)

func unlimited(cfg *authress.Config) { cfg.RateLimit, cfg.Burst = 1e9, 1e6 }

// BenchmarkConvergeConverged is the steady state: one GET by the recorded id,
// a comparison, no write.
func BenchmarkConvergeConverged(b *testing.B) {
	e := newEnv(b, envOpts{})
	c := e.open(unlimited)
	rec, _ := e.converge(c, connectors.Record{}, connectors.Options{})
	w := e.srv.Writes()
	for b.Loop() {
		if _, _, err := c.Converge(context.Background(), tenantSubject, rec, connectors.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	if e.srv.Writes() != w {
		b.Fatal("a converged connection was written")
	}
}

// BenchmarkConvergeByMarker is a convergence with no record in an account of
// 1000 connections, ours last: the full list is walked (10 pages of 100).
func BenchmarkConvergeByMarker(b *testing.B) {
	e := newEnv(b, envOpts{fake: fake.Options{ExposeSecrets: true}})
	for i := range 999 {
		e.srv.Put(fake.Connection{Type: "OAUTH2", AuthenticationURL: "https://other", ClientID: fmt.Sprint(i)})
	}
	e.srv.Put(desired(marker(testTenant, testName)))
	c := e.open(unlimited)
	for b.Loop() {
		if _, _, err := c.Converge(context.Background(), tenantSubject, connectors.Record{}, connectors.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
