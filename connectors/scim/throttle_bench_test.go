package scim_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

// BenchmarkRateLimitedAPI creates 2,000 users through the adapter and its
// adaptive throttle (no rate configured) in a fake that accepts 200 requests
// per second and answers 429 with Retry-After beyond, from 32 concurrent
// convergences that put a held user aside until the hold ends (as the bridge
// does). It reports the 429 share and the time against the minimum the limit
// allows (requests/200 per second).
func BenchmarkRateLimitedAPI(b *testing.B) {
	const users, limit, workers = 2000, 200, 32
	for b.Loop() {
		srv := fake.New(fake.Options{Token: testToken})
		srv.RateLimit(limit)
		ts := httptest.NewServer(srv.Handler())
		cfg := &scim.Config{Base: connectors.Base{Name: "odm", Type: "scim", URL: ts.URL + fake.DefaultBasePath, Token: testToken}}
		th := connectors.NewThrottle(cfg.ThrottleOptions())
		c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: "acme", Logger: zerolog.Nop(), Throttle: th})
		if err != nil {
			b.Fatal(err)
		}
		work := make(chan int, users)
		for i := range users {
			work <- i
		}
		close(work)
		start := time.Now()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		if testing.Verbose() {
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
						st := th.Status()
						b.Logf("%5.1fs requests %d 429 %d pace %.1f limit %d held %v", time.Since(start).Seconds(), len(srv.Requests()), srv.RateLimited(), st.Rate, st.Limit, time.Until(st.HeldUntil) > 0)
					}
				}
			}()
		}
		for range workers {
			wg.Go(func() {
				for i := range work {
					u := connectors.User{ID: fmt.Sprint("s", i), UserName: fmt.Sprintf("user%05d", i), Active: true}
					var prev connectors.Record
					for {
						r, _, err := c.Converge(context.Background(), userSubject(u), prev, connectors.Options{})
						if err == nil {
							break
						}
						prev = r
						if connectors.ClassOf(err) != connectors.RateLimited {
							b.Error(err)
							return
						}
						time.Sleep(max(connectors.RetryAfterOf(err), 10*time.Millisecond))
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		elapsed := time.Since(start)
		ts.Close()
		sent := len(srv.Requests())
		limited := srv.RateLimited()
		accepted := sent - limited
		b.ReportMetric(float64(limited)/float64(sent)*100, "%429")
		b.ReportMetric(elapsed.Seconds()/(float64(accepted)/limit), "time/min")
		b.ReportMetric(float64(sent), "requests")
		if d := srv.DuplicateWrites(); d != 0 {
			b.Fatalf("%d duplicate writes", d)
		}
	}
}
