package bridge

import (
	"context"
	"fmt"
	"testing"
	"time"

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
func BenchmarkProvision10kUsers(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchProvision(b, "") })
	b.Run("redis", func(b *testing.B) { benchProvision(b, redistest.Start(b)) })
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
