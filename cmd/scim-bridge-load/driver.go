package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// reply is a SCIM response.
type reply struct {
	status int
	body   []byte
}

// do sends one SCIM request (path below /scim/v2) with the tenant's token.
func (e *env) do(ctx context.Context, method, path string, body []byte) (reply, error) {
	return e.doURL(ctx, method, e.base+"/scim/v2"+path, body)
}

// doURL sends one request to url with the tenant's token and reads the
// whole answer.
func (e *env) doURL(ctx context.Context, method, url string, body []byte) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, body: data}, nil
}

// expect sends a request and fails unless the status is want.
func (e *env) expect(ctx context.Context, want int, method, path string, body []byte) (reply, error) {
	r, err := e.do(ctx, method, path, body)
	if err != nil {
		return r, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if r.status != want {
		return r, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, r.status, want, r.body)
	}
	return r, nil
}

// outcome is the result of a parallel run.
type outcome struct {
	n        int
	errors   int64
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // per request, in request order
}

// parallel runs fn(0..n-1) with inflight calls at once, timing each.
func parallel(ctx context.Context, n, inflight int, fn func(ctx context.Context, i int) error) outcome {
	out := outcome{n: n, lat: make([]time.Duration, n)}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		errs    atomic.Int64
	)
	start := time.Now()
	for range inflight {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := fn(ctx, i)
				out.lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					errOnce.Do(func() { out.firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	out.errors = errs.Load()
	if err := ctx.Err(); err != nil && out.firstErr == nil {
		out.firstErr = err
	}
	return out
}

func (o outcome) rate() float64 { return float64(o.n) / o.elapsed.Seconds() }

// quantile returns the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

func (o outcome) String() string {
	s := fmt.Sprintf("%d requests in %.2fs: %.0f/s, p50 %s, p95 %s, max %s, %d errors",
		o.n, o.elapsed.Seconds(), o.rate(), ms(quantile(o.lat, .5)), ms(quantile(o.lat, .95)), ms(quantile(o.lat, 1)), o.errors)
	if o.firstErr != nil {
		s += fmt.Sprintf(" (first: %v)", o.firstErr)
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// must marshals v (the load's own bodies never fail).
func must(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

const (
	userSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	enterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	groupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchOpSchema    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// oktaUser is the body Okta POSTs (and PUTs) for a user.
func oktaUser(prefix string, i int, given string) []byte {
	return must(oktaUserDoc(prefix, i, given))
}

// oktaUserDoc is oktaUser before encoding.
func oktaUserDoc(prefix string, i int, given string) map[string]any {
	name := fmt.Sprintf("%s%07d@example.com", prefix, i)
	return map[string]any{
		"schemas":     []string{userSchema, enterpriseSchema},
		"userName":    name,
		"externalId":  fmt.Sprintf("00u%s%07d", prefix, i),
		"name":        map[string]any{"givenName": given, "familyName": fmt.Sprintf("User%07d", i)},
		"displayName": given + fmt.Sprintf(" User%07d", i),
		"emails":      []any{map[string]any{"primary": true, "value": name, "type": "work"}},
		"locale":      "en-US",
		"active":      true,
		"groups":      []any{},
		enterpriseSchema: map[string]any{
			"employeeNumber": fmt.Sprint(i), "department": "Engineering",
		},
	}
}

// createUsers POSTs n users, returning their ids and userNames.
func createUsers(ctx context.Context, e *env, prefix string, n, inflight int) (ids []string, o outcome) {
	ids = make([]string, n)
	o = parallel(ctx, n, inflight, func(ctx context.Context, i int) error {
		r, err := e.expect(ctx, http.StatusCreated, http.MethodPost, "/Users", oktaUser(prefix, i, "Load"))
		if err != nil {
			return err
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil {
			return err
		}
		ids[i] = v.ID
		return nil
	})
	return ids, o
}

// cpuSample is one measured run: server CPU per request in µs (in all, and
// of the server process alone, the rest being redis-server's) and the rate.
type cpuSample struct {
	perReq, server, rate float64
}

// measureCPU runs fn(0..n-1) with inflight in flight and divides the CPU
// that cpu (the server's and redis-server's CPU so far) reports used over
// the run by n.
func measureCPU(ctx context.Context, n, inflight int, cpu func() (server, redis time.Duration, err error), fn func(ctx context.Context, i int) error) (cpuSample, error) {
	s0, r0, err := cpu()
	if err != nil {
		return cpuSample{}, err
	}
	o := parallel(ctx, n, inflight, fn)
	s1, r1, err := cpu()
	if err != nil {
		return cpuSample{}, err
	}
	if o.errors > 0 {
		return cpuSample{}, fmt.Errorf("%s", o)
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return cpuSample{perReq: us((s1 - s0) + (r1 - r0)), server: us(s1 - s0), rate: o.rate()}, nil
}
