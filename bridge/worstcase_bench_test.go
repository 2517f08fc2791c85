//go:build linux

package bridge

// Worst-case CPU per request: the most expensive request shapes found within
// the body limit (1 MiB), sent through the HTTP handler one at a time, on the
// embedded store and on a real redis-server. Each reports cpu-ms/req: the
// process CPU time (user + system, including the embedded Redis; on a real
// redis-server plus its used_cpu_user + used_cpu_sys) divided by the
// requests; the bound is 200 ms. Run:
//
//	go test -run '^$' -bench WorstCase -benchtime 5x -count 3 ./bridge/

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// worstCaseBodyLimit is the default body limit the shapes are sized to.
const worstCaseBodyLimit = DefaultMaxBodyBytes

// worstEnv is a bench environment with one group to PATCH.
type worstEnv struct {
	*benchEnv
	group string
	// run numbers the runs of a shape, so that names stay unique when the
	// benchmark function runs again (-count, b.N growing).
	run int
}

// worstShape is one request shape: body(i) builds the i-th request body (a
// fresh userName each time where the request creates).
type worstShape struct {
	name   string
	method string
	path   func(env *worstEnv) string
	body   func(env *worstEnv, i int) []byte
}

// repeatJSON joins n items item(k) with commas.
func repeatJSON(n int, item func(k int) string) string {
	var sb strings.Builder
	for k := range n {
		if k > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(item(k))
	}
	return sb.String()
}

func worstShapes() []worstShape {
	users := func(*worstEnv) string { return "/Users" }
	const userSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	return []worstShape{
		{"emails=20000", http.MethodPost, users, func(env *worstEnv, i int) []byte {
			return fmt.Appendf(nil, `{%s,"userName":"many-emails-%d-%d","emails":[%s]}`, userSchema, env.run, i,
				repeatJSON(20000, func(k int) string { return fmt.Sprintf(`{"value":"u%d@ex.io"}`, k) }))
		}},
		{"emails=20000-same", http.MethodPost, users, func(env *worstEnv, i int) []byte {
			return fmt.Appendf(nil, `{%s,"userName":"same-emails-%d-%d","emails":[%s]}`, userSchema, env.run, i,
				repeatJSON(40000, func(int) string { return `{"value":"a@b.c"}` }))
		}},
		{"members=15000", http.MethodPost, func(*worstEnv) string { return "/Groups" }, func(env *worstEnv, i int) []byte {
			ids := env.users["acme"]
			return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"big-%d-%d","members":[%s]}`, env.run, i,
				repeatJSON(15000, func(k int) string { return fmt.Sprintf(`{"value":%q}`, ids[k%len(ids)]) }))
		}},
		{"nesting=9000", http.MethodPost, users, func(env *worstEnv, i int) []byte {
			return fmt.Appendf(nil, `{%s,"userName":"deep-%d-%d","urn:x:deep":%s1%s}`, userSchema, env.run, i,
				strings.Repeat(`{"a":`, 9000), strings.Repeat("}", 9000))
		}},
		{"nesting=200000", http.MethodPost, users, func(env *worstEnv, i int) []byte {
			return fmt.Appendf(nil, `{%s,"userName":"deeper-%d-%d","x":%s%s}`, userSchema, env.run, i,
				strings.Repeat("[", 200000), strings.Repeat("]", 200000))
		}},
		{"filter-or=30000", http.MethodPost, func(*worstEnv) string { return "/Users/.search" }, func(_ *worstEnv, i int) []byte {
			f := repeatJSON(30000, func(k int) string { return fmt.Sprintf(`userName eq \"u%d\"`, k) })
			return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"%s"}`,
				strings.ReplaceAll(f, ",", " or "))
		}},
		{"filter-nested=100000", http.MethodPost, func(*worstEnv) string { return "/Users/.search" }, func(_ *worstEnv, i int) []byte {
			return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"%suserName pr%s"}`,
				strings.Repeat("(", 100000), strings.Repeat(")", 100000))
		}},
		{"filter-co-scan=40000", http.MethodPost, func(*worstEnv) string { return "/Users/.search" }, func(_ *worstEnv, i int) []byte {
			f := repeatJSON(20000, func(k int) string { return fmt.Sprintf(`emails co \"%d\"`, k) })
			return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"%s"}`,
				strings.ReplaceAll(f, ",", " and "))
		}},
		{"patch-ops=15000", http.MethodPatch, func(env *worstEnv) string { return "/Users/" + env.users["acme"][0] }, func(_ *worstEnv, i int) []byte {
			return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`,
				repeatJSON(15000, func(k int) string {
					return fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"p%d-%d@ex.io"}]}`, i, k)
				}))
		}},
		{"patch-filter-ops=12000", http.MethodPatch, func(env *worstEnv) string { return "/Users/" + env.users["acme"][1] }, func(_ *worstEnv, i int) []byte {
			return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`,
				repeatJSON(12000, func(k int) string {
					return fmt.Sprintf(`{"op":"replace","path":"emails[value eq \"x%d\"].type","value":"work"}`, k)
				}))
		}},
		{"patch-members=15000", http.MethodPatch, func(env *worstEnv) string { return "/Groups/" + env.group }, func(env *worstEnv, i int) []byte {
			ids := env.users["acme"]
			op := "add"
			if i%2 == 1 {
				op = "remove"
			}
			return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":%q,"path":"members","value":[%s]}]}`, op,
				repeatJSON(15000, func(k int) string { return fmt.Sprintf(`{"value":%q}`, ids[k%len(ids)]) }))
		}},
	}
}

func BenchmarkWorstCaseRequest(b *testing.B) {
	benchBackends(b, benchWorstCase)
}

// redisServerCPU returns a function reading the CPU time redis-server has
// used (INFO cpu); zero on the embedded store.
func redisServerCPU(b *testing.B, redisURL string) func() time.Duration {
	if redisURL == "" {
		return func() time.Duration { return 0 }
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { rdb.Close() })
	return func() time.Duration {
		info, err := rdb.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var total time.Duration
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				sec, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("INFO cpu %s: %v", k, err)
				}
				total += time.Duration(sec * float64(time.Second))
			}
		}
		return total
	}
}

func benchWorstCase(b *testing.B, redisURL string) {
	env := &worstEnv{benchEnv: newBenchEnv(b, redisURL, map[string]int{"acme": 15000})}
	serverCPU := redisServerCPU(b, redisURL)
	h := env.ts.b.Handler()
	send := func(method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/scim/v2"+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+env.tokens["acme"])
		req.Header.Set("Content-Type", contentTypeSCIM)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := send(http.MethodPost, "/Groups", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"patched"}`))
	if rec.Code != http.StatusCreated {
		b.Fatalf("create group: %d %s", rec.Code, rec.Body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
		b.Fatalf("create group: %v %s", err, rec.Body)
	}
	env.group = created.ID
	for _, sh := range worstShapes() {
		b.Run(sh.name, func(b *testing.B) {
			env.run++
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = sh.body(env, i)
				if len(bodies[i]) > worstCaseBodyLimit {
					b.Fatalf("%s: body of %d bytes exceeds the limit", sh.name, len(bodies[i]))
				}
			}
			path := sh.path(env)
			codes := map[int]int{}
			b.ResetTimer()
			startProc, startServer := processCPU(b), serverCPU()
			for i := range b.N {
				codes[send(sh.method, path, bodies[i]).Code]++
			}
			proc, server := processCPU(b)-startProc, serverCPU()-startServer
			cpu := proc + server
			b.StopTimer()
			for code := range codes {
				if code >= 500 {
					b.Errorf("%s answered %v", sh.name, codes)
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/req")
			if redisURL != "" {
				b.ReportMetric(float64(server.Microseconds())/1000/float64(b.N), "redis-cpu-ms/req")
			}
			b.ReportMetric(float64(len(bodies[0]))/1024, "body-KiB")
			b.Logf("%s: status codes %v", sh.name, codes)
		})
	}
}
