package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

// terminationGrace is the chart's terminationGracePeriodSeconds.
const terminationGrace = 30 * time.Second

// outcome is what one SCIM request of the load saw.
type outcome struct {
	wrote  time.Time // the request was fully written (zero if never)
	status int
	err    error
}

// slowBody trickles a SCIM user document over d, so that its request is in
// flight while the bridge is told to stop.
type slowBody struct {
	rest  string
	chunk int
	pause time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.rest == "" {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := copy(p[:min(len(p), s.chunk)], s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

// TestSIGTERMUnderLoad runs two replicas on one Redis with the Compose
// configuration, loads replica A with SCIM writes (some of them slow uploads
// spanning the signal), and sends it SIGTERM while its workers hold leases on
// convergences the downstream app answers slowly. Every request A had received
// is answered, A exits within the grace period, and replica B converges every
// acknowledged user at once — long before A's leases would have expired.
func TestSIGTERMUnderLoad(t *testing.T) {
	redisURL, _ := startRedis(t)
	app, appSrv := newFakeSCIMApp(t, 300*time.Millisecond)
	envMap := composeEnv(t, redisURL, appSrv.URL)
	env := envList(envMap)
	a := startBridge(t, "compose/bridge.yaml", env)
	b := startBridge(t, "compose/bridge.yaml", env)
	token := envMap["ACME_SCIM_TOKEN"]

	// One connection per request: no idle keep-alive connection is closed
	// under a request the client is about to send.
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	send := func(ctx context.Context, userName string, body io.Reader) outcome {
		if body == nil {
			body = strings.NewReader(userDoc(userName))
		}
		var o outcome
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { o.wrote = time.Now() }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, a.base+"/scim/v2/Users", body)
		if err != nil {
			return outcome{err: err}
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			o.err = err
			return o
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		o.status = resp.StatusCode
		return o
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu       sync.Mutex
		outcomes = map[string]outcome{}
		wg       sync.WaitGroup
		stopLoad = make(chan struct{})
	)
	record := func(name string, o outcome) {
		mu.Lock()
		outcomes[name] = o
		mu.Unlock()
	}
	// Fast writers, until after the signal.
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				name := fmt.Sprintf("load-%d-%d@example.com", w, i)
				record(name, send(ctx, name, nil))
				// About 40 writes a second in all: a steady load that keeps
				// every worker busy without a backlog B needs minutes for.
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	// Let convergences pile up on both replicas' workers.
	time.Sleep(1500 * time.Millisecond)
	// Slow uploads: headers now, the body over the next 1.5 s.
	slowStarted := make(chan struct{}, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("slow-%d@example.com", i)
			doc := userDoc(name)
			body := &slowBody{rest: doc, chunk: len(doc)/10 + 1, pause: 150 * time.Millisecond}
			conn := make(chan struct{})
			var once sync.Once
			trace := &httptrace.ClientTrace{WroteHeaders: func() { once.Do(func() { close(conn) }) }}
			go func() { <-conn; slowStarted <- struct{}{} }()
			record(name, send(httptrace.WithClientTrace(ctx, trace), name, body))
		}()
	}
	for range 3 {
		<-slowStarted
	}
	time.Sleep(200 * time.Millisecond)
	leasedBefore := gauge(t, a.base, `scim_bridge_queue_leased{tenant="acme"}`)
	signalled := time.Now()
	took, exitErr := a.stop(t, terminationGrace)
	close(stopLoad)
	wg.Wait()
	if exitErr != nil {
		t.Errorf("replica A exited with %v after SIGTERM, want status 0", exitErr)
	}
	t.Logf("replica A exited %v after SIGTERM (grace %v); %v keys were leased at the signal", took.Round(time.Millisecond), terminationGrace, leasedBefore)
	if leasedBefore == 0 {
		t.Error("no key was leased when A was signalled: the test did not exercise lease release")
	}

	var acknowledged []string
	inFlight, refused := 0, 0
	for name, o := range outcomes {
		switch {
		case o.status == http.StatusCreated:
			acknowledged = append(acknowledged, name)
			if !o.wrote.IsZero() && o.wrote.Before(signalled) {
				inFlight++
			}
		case o.status != 0:
			t.Errorf("%s: status %d", name, o.status)
		case !o.wrote.IsZero() && o.wrote.Before(signalled.Add(-50*time.Millisecond)):
			// Written before the signal: the bridge had it. Dropped.
			t.Errorf("%s was sent before SIGTERM and dropped: %v", name, o.err)
		default:
			// Sent as A stopped listening: refused or reset before the
			// bridge read it; a load balancer sends it to B.
			refused++
		}
	}
	for i := range 3 {
		if o := outcomes[fmt.Sprintf("slow-%d@example.com", i)]; o.status != http.StatusCreated {
			t.Errorf("slow upload %d in flight at SIGTERM: status %d, err %v; want 201", i, o.status, o.err)
		}
	}
	t.Logf("%d users acknowledged (%d written before the signal), %d requests sent as A stopped were refused", len(acknowledged), inFlight, refused)

	// B converges every acknowledged user at once: A's leases were released.
	// Lease expiry would take two minutes; allow a few seconds of work.
	deadline := time.Now().Add(20 * time.Second)
	for {
		missing := 0
		app.mu.Lock()
		for _, n := range acknowledged {
			if !app.created[n] {
				missing++
			}
		}
		app.mu.Unlock()
		if missing == 0 {
			t.Logf("replica B converged every acknowledged user %v after A exited", time.Since(signalled.Add(took)).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged users not converged 20 s after A stopped (leases not released?); %v keys still leased",
				missing, len(acknowledged), gauge(t, b.base, `scim_bridge_queue_leased{tenant="acme"}`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func userDoc(userName string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"active":true,"emails":[{"value":%q,"primary":true}]}`, userName, userName)
}

// gauge reads one sample of a bridge's /metrics.
func gauge(t *testing.T, base, series string) float64 {
	t.Helper()
	code, body := get(base + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("%s/metrics = %d", base, code)
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	t.Fatalf("%s/metrics has no %s", base, series)
	return 0
}
