package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

// BenchmarkUserMemory reports the Redis memory one Okta-shaped user costs
// (document plus userName, externalId and email index entries and its place
// in the creation order), on a real redis-server: the INFO memory delta of
// loading USER_MEMORY_N users (default 20,000) divided by their number, and
// MEMORY USAGE of one document. Target: at most 1,536 bytes per user.
//
//	go test ./store/ -run '^$' -bench UserMemory -benchtime 1x
func BenchmarkUserMemory(b *testing.B) {
	n := envInt(b, "USER_MEMORY_N", 20000)
	s := openTestStore(b, redistestStart(b))
	ctx := context.Background()
	for iter := 0; b.Loop(); iter++ {
		tenant := fmt.Sprintf("mem%d", iter)
		before := usedMemory(b, s)
		resBulkLoadUsers(b, s, tenant, 0, n)
		if err := s.rdb.Del(ctx, queueKey(tenant)).Err(); err != nil { // dirty marks are transient
			b.Fatal(err)
		}
		after := usedMemory(b, s)
		perUser := float64(after-before) / float64(n)
		doc, err := s.rdb.MemoryUsage(ctx, docKey(tenant, KindUser, resBenchUser(0).ID)).Result()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(perUser, "B/user")
		b.ReportMetric(float64(doc), "doc-B")
		if perUser > 1536 {
			b.Errorf("%.0f bytes per user, target 1,536", perUser)
		}
	}
}

func usedMemory(tb testing.TB, s *Store) int64 {
	tb.Helper()
	info, err := s.rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no used_memory in INFO memory")
	return 0
}

// BenchmarkLookupScale: get by id, userName eq and externalId eq on a real
// redis-server at each directory size of SCALE_USERS (comma-separated,
// default "1000,20000"; the figure is "1000,1000000"). Each is one
// round trip whatever the size: ns/op and cpu-ns/op must stay within 1.5x
// from the smallest size to the largest.
//
//	SCALE_USERS=1000,1000000 go test ./store/ -run '^$' -bench LookupScale -count 5
func BenchmarkLookupScale(b *testing.B) {
	sizes := []int{1000, 20000}
	if v := envString("SCALE_USERS"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("SCALE_USERS=%q: want sizes like 1000,1000000", v)
			}
			sizes = append(sizes, n)
		}
	}
	rs := filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	s := openTestStore(b, redistestStart(b))
	ctx := context.Background()
	loaded := 0
	for _, n := range sizes {
		resBulkLoadUsers(b, s, "scale", loaded, max(loaded, n))
		loaded = max(loaded, n)
		const nKeys = 1000
		ids := make([]string, nKeys)
		byName := make([]*filter.Filter, nKeys)
		byExt := make([]*filter.Filter, nKeys)
		for i := range nKeys {
			u := resBenchUser((i * 7919) % n)
			ids[i] = u.ID
			var err error
			if byName[i], err = filter.Compile(rs, fmt.Sprintf("userName eq %q", strings.ToUpper(u.Attrs["userName"].(string)))); err != nil {
				b.Fatal(err)
			}
			if byExt[i], err = filter.Compile(rs, fmt.Sprintf("externalId eq %q", u.Attrs["externalId"])); err != nil {
				b.Fatal(err)
			}
		}
		query := func(fs []*filter.Filter) func(i int64) error {
			return func(i int64) error {
				p, err := s.Query(ctx, "scale", KindUser, Query{Filter: fs[i%nKeys], StartIndex: 1, Count: 100})
				if err == nil && p.Total != 1 {
					err = fmt.Errorf("total %d", p.Total)
				}
				return err
			}
		}
		for _, c := range []struct {
			name string
			op   func(i int64) error
		}{
			{"get", func(i int64) error { _, err := s.Get(ctx, "scale", KindUser, ids[i%nKeys]); return err }},
			{"userName-eq", query(byName)},
			{"externalId-eq", query(byExt)},
		} {
			b.Run(fmt.Sprintf("%s/users=%d", c.name, n), func(b *testing.B) { resParallel(b, s, c.op) })
		}
	}
}

// BenchmarkPatch is the store side of a PATCH (and of a PUT): read the
// resource, write it back with If-Match on the version read.
func BenchmarkPatch(b *testing.B) {
	resBenchBackends(b, func(b *testing.B, s *Store) {
		const n = 1000
		resBulkLoadUsers(b, s, "bench", 0, n)
		ctx := context.Background()
		resParallel(b, s, func(k int64) error {
			id := resBenchUser(int(k % n)).ID
			for {
				cur, err := s.Get(ctx, "bench", KindUser, id)
				if err != nil {
					return err
				}
				cur.Attrs["title"] = fmt.Sprintf("Title %d", k)
				cur.LastModified = resT0
				if err = s.Replace(ctx, "bench", cur, cur.Version); !isPrecondition(err) {
					return err
				}
			}
		})
	})
}
