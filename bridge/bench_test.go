package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge/internal/uuid"
	"github.com/scim-bridge/scim-bridge/store"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// The benchmarks drive the real HTTP handler over a loopback httptest server
// with a keep-alive client, 4×GOMAXPROCS concurrent clients, on the embedded
// store and on a real redis-server (skipped only when redis-server is missing
// outside CI). Each reports req/s. Run:
//
//	go test -run '^$' -bench . -benchtime 2s -count 3 ./bridge/

const benchParallelism = 4

// benchEnv is one bridge under load: tenants by name, their tokens and user ids.
type benchEnv struct {
	ts     *testServer
	client *http.Client
	tokens map[string]string   // tenant -> bearer token
	users  map[string][]string // tenant -> ids of pre-populated users
}

// benchBackends runs setup once per backend (not once per b.N round) and then
// the leaf benchmarks that fn declares with b.Run.
func benchBackends(b *testing.B, fn func(b *testing.B, redisURL string)) {
	b.Run("embedded", func(b *testing.B) { fn(b, "") })
	b.Run("redis", func(b *testing.B) { fn(b, redistest.Start(b)) })
}

// newBenchEnv starts a bridge whose tenants are named in sizes, each with that
// many pre-populated users (written through the store, many at a time).
func newBenchEnv(b *testing.B, redisURL string, sizes map[string]int) *benchEnv {
	b.Helper()
	env := &benchEnv{tokens: map[string]string{}, users: map[string][]string{}}
	var tenants []TenantOptions
	for name := range sizes {
		tok := "bench-token-" + name + "-0123456789"
		env.tokens[name] = tok
		tenants = append(tenants, TenantOptions{ID: name, SCIMTokens: []string{tok}})
	}
	env.ts = newTestServer(b, redisURL, func(o *Options) { o.Tenants = tenants })
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	env.client = &http.Client{Transport: tr}
	for name, n := range sizes {
		env.users[name] = populateUsers(b, env.ts.b.Store(), name, n)
	}
	return env
}

// benchUserAttrs are the normalized attributes of pre-populated user i.
func benchUserAttrs(i int) map[string]any {
	name := fmt.Sprintf("user%06d", i)
	return map[string]any{
		"userName":    name,
		"externalId":  fmt.Sprintf("ext-%06d", i),
		"displayName": "User " + name,
		"active":      true,
		"name":        map[string]any{"givenName": "Given", "familyName": "Family"},
		"emails":      []any{map[string]any{"value": name + "@example.com", "type": "work", "primary": true}},
	}
}

func populateUsers(b *testing.B, st *store.Store, tenant string, n int) []string {
	b.Helper()
	ids := make([]string, n)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Value
	)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				r := &store.Resource{ID: uuid.New(), Kind: store.KindUser, Attrs: benchUserAttrs(i)}
				if err := st.Create(context.Background(), tenant, r); err != nil {
					// A conflict on a fresh random id means the Redis client
					// retried a create whose reply timed out: it is there.
					var ce *store.ConflictError
					if !errors.As(err, &ce) || ce.Attr != "id" {
						fail.Store(err)
						return
					}
				}
				ids[i] = r.ID
			}
		})
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		b.Fatalf("populate %s: %v", tenant, err)
	}
	return ids
}

// do sends one request and drains the answer; it is safe in RunParallel.
func (env *benchEnv) do(tenant, method, path string, body []byte, want int) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, env.ts.srv.URL+"/scim/v2"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+env.tokens[tenant])
	if body != nil {
		req.Header.Set("Content-Type", contentTypeSCIM)
	}
	resp, err := env.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, msg)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// runParallel runs op(i) b.N times over benchParallelism×GOMAXPROCS goroutines
// (i is unique per call) and reports req/s.
func runParallel(b *testing.B, op func(i int) error) {
	b.Helper()
	var (
		seq    atomic.Int64
		failed atomic.Bool
	)
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(int(seq.Add(1) - 1)); err != nil && failed.CompareAndSwap(false, true) {
				b.Error(err)
			}
		}
	})
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "req/s")
	}
}

func BenchmarkCreate(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		env := newBenchEnv(b, redisURL, map[string]int{"acme": 0})
		round := 0
		b.Run("users=0", func(b *testing.B) {
			round++
			prefix := fmt.Sprintf("new%d-", round)
			runParallel(b, func(i int) error {
				body, _ := json.Marshal(userDoc(fmt.Sprintf("%s%08d", prefix, i), "displayName", "New User",
					"name", map[string]any{"givenName": "New", "familyName": "User"}))
				return env.do("acme", http.MethodPost, "/Users", body, http.StatusCreated)
			})
		})
	})
}

func BenchmarkGet(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		env := newBenchEnv(b, redisURL, map[string]int{"acme": 1000})
		ids := env.users["acme"]
		b.Run("users=1000", func(b *testing.B) {
			runParallel(b, func(i int) error {
				return env.do("acme", http.MethodGet, "/Users/"+ids[i%len(ids)], nil, http.StatusOK)
			})
		})
	})
}

func BenchmarkFilterUserNameEq(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		sizes := map[string]int{"small": 1000, "large": 100000}
		env := newBenchEnv(b, redisURL, sizes)
		for _, tenant := range []string{"small", "large"} {
			n := sizes[tenant]
			path := func(i int) string {
				return "/Users?filter=" + strings.ReplaceAll(fmt.Sprintf(`userName eq "USER%06d"`, (i*7919)%n), " ", "+")
			}
			// The lookup must really find the one user.
			r, err := env.ts.sendSCIM(env.tokens[tenant], http.MethodGet, path(n/2), nil)
			if err != nil || r.Status != http.StatusOK || r.Body["totalResults"] != float64(1) {
				b.Fatalf("lookup in %s: %v %d %s", tenant, err, r.Status, r.Raw)
			}
			b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
				runParallel(b, func(i int) error {
					return env.do(tenant, http.MethodGet, path(i), nil, http.StatusOK)
				})
			})
		}
	})
}

// entraPatch is a typical 3-operation Entra ID PATCH; alt alternates the values
// so that every PATCH really writes.
func entraPatch(i int, alt bool) []byte {
	family, mail, active := "Family", fmt.Sprintf("user%06d@example.com", i), "True"
	if alt {
		family, mail, active = "Changed", fmt.Sprintf("user%06d@changed.example", i), "False"
	}
	body, _ := json.Marshal(map[string]any{
		"schemas": []string{PatchOpSchema},
		"Operations": []any{
			map[string]any{"op": "Replace", "path": "name.familyName", "value": family},
			map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": mail},
			map[string]any{"op": "Replace", "path": "active", "value": active},
		},
	})
	return body
}

func BenchmarkPatch3Ops(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		env := newBenchEnv(b, redisURL, map[string]int{"acme": 1000})
		ids := env.users["acme"]
		// Each round continues the alternation where the previous one stopped.
		var done int
		b.Run("users=1000", func(b *testing.B) {
			base := done
			runParallel(b, func(i int) error {
				k := base + i
				u := k % len(ids)
				return env.do("acme", http.MethodPatch, "/Users/"+ids[u], entraPatch(u, (k/len(ids))%2 == 0), http.StatusOK)
			})
			done += b.N
		})
		// Every PATCH wrote: versions add up to one per request plus the creation.
		var total int64
		for _, id := range ids {
			r, err := env.ts.b.Store().Get(context.Background(), "acme", store.KindUser, id)
			if err != nil {
				b.Fatal(err)
			}
			total += r.Version
		}
		if total != int64(done+len(ids)) {
			b.Errorf("versions sum to %d after %d PATCHes of %d users, want %d", total, done, len(ids), done+len(ids))
		}
	})
}

func BenchmarkPut(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		env := newBenchEnv(b, redisURL, map[string]int{"acme": 1000})
		ids := env.users["acme"]
		b.Run("users=1000", func(b *testing.B) {
			runParallel(b, func(i int) error {
				u := i % len(ids)
				attrs := benchUserAttrs(u)
				attrs["schemas"] = []string{UserSchema}
				attrs["title"] = fmt.Sprint("Title ", i)
				body, _ := json.Marshal(attrs)
				return env.do("acme", http.MethodPut, "/Users/"+ids[u], body, http.StatusOK)
			})
		})
	})
}

func BenchmarkListPage100(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		env := newBenchEnv(b, redisURL, map[string]int{"acme": 1000})
		b.Run("users=1000", func(b *testing.B) {
			runParallel(b, func(i int) error {
				return env.do("acme", http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", 1+100*(i%10)), nil, http.StatusOK)
			})
		})
	})
}
