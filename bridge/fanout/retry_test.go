package fanout

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store"
)

var (
	err500 = &connectors.Error{Class: connectors.Retryable, Op: "POST /users", Status: 500}
	err400 = &connectors.Error{Class: connectors.Permanent, Op: "POST /users", Status: 400}
)

// policyWorker is a worker with only what the retry policy reads, on a fake
// clock.
func policyWorker() (*Worker, *fakeclock.Clock) {
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return New(Options{Now: clk.Now, Logger: zerolog.Nop()}), clk
}

// fail records one failed attempt of st as convergeOne does and returns the
// delay until its retry.
func fail(w *Worker, st *store.SyncState, err error) time.Duration {
	st.Attempts++
	w.observe("acme", "bim", err)
	at := w.retryRule("acme", "bim", st, err)
	if at.IsZero() {
		return 0
	}
	return at.Sub(w.now())
}

// traffic records ok successes and bad 500s of other subjects on the connector.
func traffic(w *Worker, ok, bad int) {
	for range ok {
		w.observe("acme", "bim", nil)
	}
	for range bad {
		w.observe("acme", "bim", err500)
	}
}

// maxSporadic is the longest wait a sporadic error may cost: sporadicCap with
// its jitter.
var maxSporadic = sporadicCap * 6 / 5

func TestSporadicErrorsRetriedWithinSeconds(t *testing.T) {
	for run := range 50 { // the delays are random: many draws
		w, clk := policyWorker()
		traffic(w, 90, 10) // the API answers 10% 500s
		st := &store.SyncState{Connector: "bim", Subject: "user/1"}
		var total time.Duration
		for n := 1; n <= 6; n++ { // six 500s in a row for one subject
			d := fail(w, st, err500)
			if st.Status != store.SyncRetrying {
				t.Fatalf("run %d attempt %d: status %q, want retrying", run, n, st.Status)
			}
			if d <= 0 || d > maxSporadic {
				t.Fatalf("run %d attempt %d: retry in %s, want within %s", run, n, d, maxSporadic)
			}
			if n == 1 && d > DefaultBackoffBase*6/10 {
				t.Fatalf("run %d: first retry of a sporadic 500 in %s, want about half a second", run, d)
			}
			total += d
			clk.Advance(d)
			traffic(w, 9, 1)
		}
		// 0.5+1+2+2+2+2 s, ±20%: the last subjects of a load whose calls
		// fail at random converge within seconds of the others (was 21 s).
		if total > 12*time.Second {
			t.Fatalf("run %d: six sporadic 500s cost %s, want under 12s", run, total)
		}
	}
}

func TestDownAPIBacksOffToCap(t *testing.T) {
	w, clk := policyWorker()
	st := &store.SyncState{Connector: "bim", Subject: "user/1"}
	traffic(w, 0, healthMinSamples) // every call of every subject fails
	var last time.Duration
	for n := 1; n < maxAttempts; n++ {
		d := fail(w, st, err500)
		if st.Status != store.SyncRetrying {
			t.Fatalf("attempt %d: status %q, want retrying", n, st.Status)
		}
		if hi := backoffCap*6/5*6/5 + 100*time.Millisecond; d > hi {
			t.Fatalf("attempt %d: retry in %s, above the bound %s", n, d, hi)
		}
		if n == 7 && d < 32*time.Second {
			t.Fatalf("attempt 7 on a down API: retry in %s, want the exponential backoff (≥ 51s)", d)
		}
		last = d
		clk.Advance(d)
		traffic(w, 0, healthMinSamples) // still down
	}
	if last < backoffCap*4/5 {
		t.Fatalf("last retry in %s, want the cap %s (-20%%)", last, backoffCap)
	}
	if fail(w, st, err500); st.Status != store.SyncDead {
		t.Fatalf("after %d attempts: status %q, want dead", maxAttempts, st.Status)
	}
}

func TestHealthRecoversAfterWindow(t *testing.T) {
	w, clk := policyWorker()
	traffic(w, 0, 50)
	if w.health.healthy("acme", "bim", clk.Now()) {
		t.Fatal("all failing: healthy")
	}
	if !w.health.healthy("acme", "other", clk.Now()) || !w.health.healthy("globex", "bim", clk.Now()) {
		t.Fatal("health leaked to another connector or tenant")
	}
	clk.Advance(healthBucket * healthBuckets)
	if !w.health.healthy("acme", "bim", clk.Now()) {
		t.Fatal("failures older than the window still count")
	}
	traffic(w, 4, 6) // 40%: failing broadly
	if w.health.healthy("acme", "bim", clk.Now()) {
		t.Fatal("40% success counted healthy")
	}
	traffic(w, 30, 0)
	if !w.health.healthy("acme", "bim", clk.Now()) {
		t.Fatal("90% success counted unhealthy")
	}
}

func TestSubjectFailingAloneBacksOff(t *testing.T) {
	w, clk := policyWorker()
	st := &store.SyncState{Connector: "bim", Subject: "user/1"}
	var d time.Duration
	for n := 1; n <= sporadicStreak+4; n++ {
		traffic(w, 20, 0) // the others succeed
		d = fail(w, st, err500)
		clk.Advance(d)
	}
	if want := sporadicCap * 16 * 4 / 5; d < want {
		t.Fatalf("attempt %d of one failing subject: retry in %s, want ≥ %s", sporadicStreak+4, d, want)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	for _, err := range []error{
		&connectors.Error{Class: connectors.RateLimited, Op: "GET /users", Status: 429, RetryAfter: 30 * time.Second},
		&connectors.Error{Class: connectors.Retryable, Op: "GET /users", Status: 503, RetryAfter: 30 * time.Second},
	} {
		w, _ := policyWorker()
		traffic(w, 100, 0) // healthy: the sporadic delay would be about a second
		st := &store.SyncState{Connector: "bim", Subject: "user/1"}
		if d := fail(w, st, err); d < 30*time.Second {
			t.Fatalf("%v: retry in %s, before the Retry-After", err, d)
		}
	}
}

// A 429 refuses the request; it does not say the subject fails. Its retry is
// due at the Retry-After, not after the backoff the subject's earlier 500s or
// the connector's health would give.
func TestRateLimitedRetryDueAtRetryAfter(t *testing.T) {
	err429 := &connectors.Error{Class: connectors.RateLimited, Op: "POST /users", Status: 429, RetryAfter: time.Second}
	for _, tc := range []struct {
		name    string
		before  int // 500s of the subject before the 429
		ok, bad int // the connector's recent outcomes
	}{
		{"first attempt", 0, 100, 0},
		{"after three sporadic 500s", 3, 90, 10},
		{"after many 500s of a failing API", 9, 0, 50},
	} {
		for run := range 20 {
			w, clk := policyWorker()
			traffic(w, tc.ok, tc.bad)
			st := &store.SyncState{Connector: "bim", Subject: "user/1"}
			for range tc.before {
				clk.Advance(fail(w, st, err500))
			}
			d := fail(w, st, err429)
			if lo, hi := time.Second, time.Second*6/5+100*time.Millisecond; d < lo || d > hi {
				t.Fatalf("%s (run %d): retry after a 429 with Retry-After: 1 in %s, want within [%s, %s]", tc.name, run, d, lo, hi)
			}
			if st.Status != store.SyncRetrying {
				t.Fatalf("%s: status %q, want retrying", tc.name, st.Status)
			}
		}
	}
}

func TestPermanentErrorDeadAtOnce(t *testing.T) {
	w, _ := policyWorker()
	traffic(w, 100, 0)
	st := &store.SyncState{Connector: "bim", Subject: "user/1"}
	if d := fail(w, st, err400); d != 0 || st.Status != store.SyncDead || !st.NextRetry.IsZero() {
		t.Fatalf("400: status %q, retry in %s; want dead, no retry", st.Status, d)
	}
	if r, n := w.health.ratio("acme", "bim", w.now()); r != 1 || n != 100 {
		t.Fatalf("a 400 counted in the health: ratio %v over %d", r, n)
	}
}

// A lone 429 of one subject holds that subject alone: the next subject of the
// same connector converges at once (whether every request of a connector waits
// is the throttle's call, made from more than one answer).
func TestLoneRateLimitHoldsOnlyItsSubject(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	createUser(t, st, "alice")
	createUser(t, st, "bob")
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(_ context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			if s.ID == "alice" {
				return prev, nil, &connectors.Error{Class: connectors.RateLimited, Op: "POST /users", Status: 429, RetryAfter: 30 * time.Second}
			}
			return prev, nil, nil
		}}
	ts, err := tenant.NewSet([]*tenant.Tenant{{ID: "acme", Connectors: []connectors.Connector{conn}}})
	if err != nil {
		t.Fatal(err)
	}
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := New(Options{Store: st, Tenants: ts, Logger: zerolog.Nop(), Now: clk.Now, Owner: "w1"})
	ctx := context.Background()
	acme := ts.Get("acme")

	at, err := w.converge(ctx, acme, store.Claim{Key: store.WorkKey{Tenant: "acme", Kind: store.WorkUser, ID: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := at.Sub(clk.Now()); d < 30*time.Second || d > 37*time.Second {
		t.Fatalf("alice retried in %s, want at the Retry-After (30s)", d)
	}
	at, err = w.converge(ctx, acme, store.Claim{Key: store.WorkKey{Tenant: "acme", Kind: store.WorkUser, ID: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if !at.IsZero() || conn.Calls("bob") != 1 {
		t.Fatalf("bob: %d convergences, retry at %v; want converged at once, not held by alice's 429", conn.Calls("bob"), at)
	}
	if s, err := st.GetSync(ctx, "acme", "down", "User|bob"); err != nil || s.Status != store.SyncSynced {
		t.Fatalf("bob's sync state %+v (%v), want synced", s, err)
	}
}

// TestConflictsDoNotMakeTheAPIUnhealthy: a 409 is retried (not parked at
// once), but it is a refusal, not a failure of the API: a burst of them
// leaves the connector healthy.
func TestConflictsDoNotMakeTheAPIUnhealthy(t *testing.T) {
	w, _ := policyWorker()
	err409 := &connectors.Error{Class: connectors.ClassifyStatus(409), Op: "POST /users", Status: 409}
	st := &store.SyncState{Connector: "bim", Subject: "user/1"}
	if d := fail(w, st, err409); d <= 0 || st.Status != store.SyncRetrying {
		t.Fatalf("a 409: status %q, retry in %s; want retrying", st.Status, d)
	}
	traffic(w, 10, 0)
	for range 50 {
		w.observe("acme", "bim", err409)
	}
	if !w.health.healthy("acme", "bim", w.now()) {
		t.Error("50 conflicts made the connector unhealthy")
	}
	for range 50 {
		w.observe("acme", "bim", err500)
	}
	if w.health.healthy("acme", "bim", w.now()) {
		t.Error("50 500s left the connector healthy: the check proves nothing")
	}
}
