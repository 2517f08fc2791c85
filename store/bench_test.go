package store

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// Benchmarks of the resource paths the SCIM endpoint sits on, each on the
// embedded store and on a real redis-server:
//
//	go test ./store/ -run '^$' -bench 'Create|Get|QueryUserNameEq|Replace|ListPage100' -count 5
//
// They run in parallel (b.RunParallel): ns/op is wall time per operation with
// GOMAXPROCS clients, i.e. the inverse of throughput. cpu-ns/op is the CPU time
// per operation of this process plus, on real Redis, of the server (INFO cpu):
// on a shared machine it is the steadier figure.

// resCPUMeter measures CPU time per operation over a benchmark run.
type resCPUMeter struct {
	s         *Store
	self, srv time.Duration
	selfOK    bool
}

func resStartCPU(s *Store) *resCPUMeter {
	m := &resCPUMeter{s: s}
	m.self, m.selfOK = resProcessCPU()
	m.srv = m.serverCPU()
	return m
}

// serverCPU is the CPU time of a real Redis server (0 for the embedded store,
// whose time is this process's).
func (m *resCPUMeter) serverCPU() time.Duration {
	if m.s.Embedded() {
		return 0
	}
	info, err := m.s.rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

func (m *resCPUMeter) report(b *testing.B) {
	self, ok := resProcessCPU()
	if !ok || !m.selfOK || b.N == 0 {
		return
	}
	total := self - m.self + m.serverCPU() - m.srv
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func resBenchBackends(b *testing.B, fn func(b *testing.B, s *Store)) {
	b.Run("embedded", func(b *testing.B) { fn(b, openTestStore(b, "")) })
	b.Run("redis", func(b *testing.B) { fn(b, openTestStore(b, redistest.Start(b))) })
}

// resParallel runs op in parallel b.N times with a shared counter k (1, 2, ...),
// reporting allocations and CPU per operation.
func resParallel(b *testing.B, s *Store, op func(k int64) error) {
	b.Helper()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := resStartCPU(s)
	defer cpu.report(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(next.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// resBenchUser is a user shaped like what Okta and Entra provision.
func resBenchUser(i int) *Resource {
	name := fmt.Sprintf("user%07d@example.com", i)
	return &Resource{
		ID: fmt.Sprintf("2819c223-7f76-453a-919d-%012d", i), Kind: KindUser,
		Created: resT0, LastModified: resT0,
		Attrs: map[string]any{
			"userName":    name,
			"externalId":  fmt.Sprintf("00u%07dabcdEFGH", i),
			"displayName": fmt.Sprintf("User %d", i),
			"name": map[string]any{
				"givenName": "User", "familyName": fmt.Sprint(i), "formatted": fmt.Sprintf("User %d", i),
			},
			"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}},
			"active": true,
			"title":  "Engineer",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
				"employeeNumber": fmt.Sprint(i), "department": "R&D",
			},
		},
	}
}

// resBulkLoadUsers stores users [from, to) of resBenchUser without the write
// script: pipelined plain commands laying out exactly what Create would (see
// TestResourceBulkLoadMatchesCreate), for fast benchmark set-up.
func resBulkLoadUsers(tb testing.TB, s *Store, tenant string, from, to int) {
	tb.Helper()
	ctx := context.Background()
	const chunk = 2000
	for start := from; start < to; start += chunk {
		pipe := s.rdb.Pipeline()
		for i := start; i < min(start+chunk, to); i++ {
			r := resBenchUser(i)
			d, err := encodeDoc(r)
			if err != nil {
				tb.Fatal(err)
			}
			seq := int64(i + 1)
			pipe.Set(ctx, docKey(tenant, KindUser, r.ID), fmt.Sprintf("1 %d %d %d\n%s\n%s\n%s",
				r.Created.UnixNano(), r.LastModified.UnixNano(), seq, d.ix, d.attrs, d.members), 0)
			pipe.HSet(ctx, userNameIndexKey(tenant), d.uniqueName, r.ID)
			pipe.ZAdd(ctx, userExtIDIndexKey(tenant), redis.Z{Member: lexMember(d.externalID, r.ID)})
			for _, e := range d.emails {
				pipe.ZAdd(ctx, emailIndexKey(tenant), redis.Z{Member: lexMember(e, r.ID)})
			}
			pipe.ZAdd(ctx, orderKey(tenant, KindUser), redis.Z{Score: float64(seq), Member: r.ID})
			pipe.ZAddLT(ctx, queueKey(tenant), redis.Z{Score: float64(s.now().UnixMilli()), Member: queueMember(WorkUser, r.ID)})
		}
		pipe.Set(ctx, seqKey(tenant), min(start+chunk, to), 0)
		if _, err := pipe.Exec(ctx); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestResourceBulkLoadMatchesCreate(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		resWithClock(s, resT0)
		resBulkLoadUsers(t, s, "bulk", 0, 3)
		for i := range 3 {
			resCreate(t, s, "made", resBenchUser(i))
		}
		bulk, made := resSnapshot(t, s, "bulk"), resSnapshot(t, s, "made")
		if len(bulk) != len(made) {
			t.Fatalf("bulk load wrote %d keys, Create %d", len(bulk), len(made))
		}
		for k, v := range made {
			bk := "sb:{bulk}" + k[len("sb:{made}"):]
			if !reflect.DeepEqual(bulk[bk], v) {
				t.Errorf("%s: bulk %s, create %s", bk, bulk[bk], v)
			}
		}
	})
}

func BenchmarkCreate(b *testing.B) {
	resBenchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		resParallel(b, s, func(k int64) error { return s.Create(ctx, "bench", resBenchUser(int(k))) })
	})
}

func BenchmarkGet(b *testing.B) {
	resBenchBackends(b, func(b *testing.B, s *Store) {
		const n = 1000
		resBulkLoadUsers(b, s, "bench", 0, n)
		ctx := context.Background()
		resParallel(b, s, func(k int64) error {
			_, err := s.Get(ctx, "bench", KindUser, resBenchUser(int(k*7919%n)).ID)
			return err
		})
	})
}

// BenchmarkQueryUserNameEq is the IdP's lookup before every create. The figures
// at 1,000 and 100,000 stored users must stay close: the lookup never scans.
func BenchmarkQueryUserNameEq(b *testing.B) {
	rs := filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	const nFilters = 1000
	resBenchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		loaded := 0
		for _, n := range []int{1000, 100000} {
			resBulkLoadUsers(b, s, "bench", loaded, n)
			loaded = n
			filters := make([]*filter.Filter, nFilters)
			for i := range filters {
				f, err := filter.Compile(rs, fmt.Sprintf(`userName eq "USER%07d@example.com"`, (i*7919)%n))
				if err != nil {
					b.Fatal(err)
				}
				filters[i] = f
			}
			b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
				resParallel(b, s, func(k int64) error {
					p, err := s.Query(ctx, "bench", KindUser, Query{Filter: filters[k%nFilters], StartIndex: 1, Count: 100})
					if err == nil && p.Total != 1 {
						err = fmt.Errorf("query: total %d", p.Total)
					}
					return err
				})
			})
		}
	})
}

func BenchmarkReplace(b *testing.B) {
	resBenchBackends(b, func(b *testing.B, s *Store) {
		const n = 1000
		resBulkLoadUsers(b, s, "bench", 0, n)
		ctx := context.Background()
		resParallel(b, s, func(k int64) error {
			r := resBenchUser(int(k % n))
			r.Attrs["displayName"] = fmt.Sprintf("Renamed %d", k)
			return s.Replace(ctx, "bench", r, 0)
		})
	})
}

func BenchmarkListPage100(b *testing.B) {
	resBenchBackends(b, func(b *testing.B, s *Store) {
		const n = 10000
		resBulkLoadUsers(b, s, "bench", 0, n)
		ctx := context.Background()
		resParallel(b, s, func(k int64) error {
			start := int(k%(n/100))*100 + 1
			p, err := s.Query(ctx, "bench", KindUser, Query{StartIndex: start, Count: 100})
			if err == nil && len(p.Resources) != 100 {
				err = fmt.Errorf("list: %d resources", len(p.Resources))
			}
			return err
		})
	})
}
