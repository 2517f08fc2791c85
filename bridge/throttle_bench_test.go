package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// benchLimit is the rate every downstream fake of BenchmarkProvisionRateLimited
// accepts, in requests per second (token bucket, 429 with Retry-After beyond).
const benchLimit = 200

// BenchmarkProvisionRateLimited provisions 10,000 users through the SCIM
// endpoint into the four downstream fakes, each accepting 200 requests per
// second and answering 429 with Retry-After beyond, with no rate configured in
// the bridge (its throttles find each limit) and the default settling (1s,
// 10s). It checks that every user converges with no duplicate write, and
// reports the share of 429 answers among the requests sent, and the time from
// the first POST to the last convergence against the minimum the limits allow
// (the requests each API accepted / 200 per second, the busiest API's). One
// iteration is one full run: use -benchtime=1x.
//
//	go test -run '^$' -bench ProvisionRateLimited -benchtime 1x -count 3 ./bridge/
func BenchmarkProvisionRateLimited(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchProvisionRateLimited(b, "") })
	b.Run("redis", func(b *testing.B) { benchProvisionRateLimited(b, redistest.Start(b)) })
}

func benchProvisionRateLimited(b *testing.B, redisURL string) {
	const n = benchProvisionUsers
	var elapsed, minimum time.Duration
	var sent, limited float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ds := startDownstream(b)
		ds.unpaced = true
		f := newFanout(b, redisDB(redisURL, i%16), ds, fanoutConfig{Settle: time.Second, SettleMax: 10 * time.Second})
		if redisURL != "" {
			if err := f.st.Client().FlushDB(context.Background()).Err(); err != nil {
				b.Fatalf("flush: %v", err)
			}
		}
		f.run(b)
		eventually(b, 10*time.Second, func() error { return f.allSynced(b, map[string]int{connAuthress: 1}) })
		ds.bimdata.RateLimit(benchLimit)
		ds.bimplus.RateLimit(benchLimit)
		ds.authress.RateLimit(benchLimit)
		ds.odm.RateLimit(benchLimit)
		before := ds.requests()
		c := newSCIMClient(f.srv, benchProvisionClients)
		b.StartTimer()

		start := time.Now()
		if _, err := provisionConcurrently(context.Background(), func(int) *scimClient { return c }, n, benchProvisionClients, nil); err != nil {
			b.Fatalf("provision: %v", err)
		}
		want := map[string]int{connBIMData: n, connBimplus: n, connODM: n, connAuthress: 1}
		deadline := time.Now().Add(10 * time.Minute)
		for {
			err := f.allSynced(b, want)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("not converged: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		run := time.Since(start)
		elapsed += run

		b.StopTimer()
		after := ds.requests()
		rateLimited := map[string]int{
			connBIMData: ds.bimdata.RateLimited(), connBimplus: ds.bimplus.RateLimited(),
			connAuthress: ds.authress.RateLimited(), connODM: ds.odm.RateLimited(),
		}
		var busiest float64
		for _, name := range allConnectors {
			req := after[name] - before[name]
			sent += float64(req)
			limited += float64(rateLimited[name])
			accepted := float64(req - rateLimited[name])
			busiest = max(busiest, accepted)
			b.Logf("%s: %d requests, %d answered 429", name, req, rateLimited[name])
		}
		least := time.Duration(busiest / benchLimit * float64(time.Second))
		minimum += least
		b.Logf("run %d: %v, minimum %v (%.0f requests to the busiest API)", i, run.Round(time.Millisecond), least.Round(time.Millisecond), busiest)
		if dups := ds.duplicates(); dups[connBIMData]+dups[connBimplus]+dups[connAuthress]+dups[connODM] != 0 {
			b.Errorf("duplicate writes: %v", dups)
		}
		f.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "users/s")
	b.ReportMetric(elapsed.Seconds()/minimum.Seconds(), "time/minimum")
	b.ReportMetric(limited/sent*100, "%429")
	if limited/sent > 0.01 {
		b.Errorf("%.2f%% of the requests were answered 429, want at most 1%%", limited/sent*100)
	}
	if r := elapsed.Seconds() / minimum.Seconds(); r > 1.15 {
		b.Errorf("took %.2f× the minimum the limits allow, want at most 1.15×", r)
	}
}
