package store

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkLargeGroup is the life of an "All employees" group on a real
// redis-server, as Okta pushes it: grown to LARGE_GROUP_N members (default
// 20,000; the figure is 100,000) by PATCH-sized adds of 50 with 8
// in flight, then a user delete, a replace of the whole membership, and removals of 50 with 8 in flight (half
// of them one member at a time, as Okta's members[value eq "id"] removals),
// then a delete of the group. Before it SLOWLOG records commands over 2 ms
// (CONFIG SET slowlog-log-slower-than 2000); the benchmark fails when any
// script of the store ran longer. It reports member PATCHes per second, the
// p50 of an add over the first and the last 5% of the growth, GetGroup
// (excludedAttributes=members) per second at full size and the heap growth
// of streaming every member.
//
//	LARGE_GROUP_N=100000 go test ./store/ -run '^$' -bench LargeGroup -benchtime 1x
//
// Slow entries that are not the store's scripts (a plain EXISTS) mean the
// machine descheduled redis-server and are reported, not failed.
func BenchmarkLargeGroup(b *testing.B) {
	n := envInt(b, "LARGE_GROUP_N", 20000)
	report := func(v float64, unit string) {
		b.ReportMetric(v, unit)
		b.Logf("%s: %.0f", unit, v) // also when the benchmark fails
	}
	s := openTestStore(b, redistestStart(b))
	ctx := context.Background()
	resBulkLoadUsers(b, s, "acme", 0, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = resBenchUser(i).ID
	}
	for _, kv := range [][2]string{{"slowlog-log-slower-than", "2000"}, {"slowlog-max-len", "10000"}} {
		if err := s.rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			b.Fatal(err)
		}
	}
	for iter := 0; b.Loop(); iter++ {
		gid := fmt.Sprintf("all-%d", iter)
		resCreate(b, s, "acme", resGroup(gid, "All employees "+gid))
		if err := s.rdb.Do(ctx, "SLOWLOG", "RESET").Err(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		lat := inFlight(b, 8, n/50, func(i int) error {
			_, err := s.AddMembers(ctx, "acme", gid, memberIDs(ids[i*50:min(i*50+50, n)]...), 0)
			return err
		})
		report(float64(n/50)/time.Since(start).Seconds(), "adds/s")
		if c, _ := s.MemberCount(ctx, "acme", gid); c != n {
			b.Fatalf("%d members after the adds, want %d", c, n)
		}
		w := max(20, len(lat)/20) // the first and last 5% of the adds
		first, last := lat[:min(w, len(lat))], lat[max(0, len(lat)-w):]
		report(float64(median(first).Microseconds()), "p50-add-first-µs")
		report(float64(median(last).Microseconds()), "p50-add-last-µs")
		// excludedAttributes=members: O(1) whatever the size.
		start = time.Now()
		const gets = 2000
		inFlight(b, 8, gets, func(int) error {
			_, c, err := s.GetGroup(ctx, "acme", gid)
			if err == nil && c != n {
				err = fmt.Errorf("count %d", c)
			}
			return err
		})
		report(gets/time.Since(start).Seconds(), "getgroup/s")
		// Streaming every member: bounded memory.
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		peak, streamed := uint64(0), 0
		if err := s.ForEachMember(ctx, "acme", gid, 0, func(ms []Member) error {
			streamed += len(ms)
			if streamed%(20*memberReadChunk) == 0 {
				runtime.GC() // live heap only
				runtime.ReadMemStats(&after)
				peak = max(peak, after.HeapAlloc)
			}
			return nil
		}); err != nil || streamed != n {
			b.Fatalf("streamed %d, %v", streamed, err)
		}
		report(float64(int64(peak)-int64(before.HeapAlloc))/1024, "stream-heap-KiB")
		if err := s.Delete(ctx, "acme", KindUser, ids[n-1], 0); err != nil {
			b.Fatal(err)
		}
		resCreate(b, s, "acme", resBenchUser(n-1))
		if _, err := s.ReplaceMembers(ctx, "acme", gid, memberIDs(ids[n/10:]...), 0); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ReplaceMembers(ctx, "acme", gid, memberIDs(ids...), 0); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		inFlight(b, 8, n/50, func(i int) error {
			chunk := ids[i*50 : min(i*50+50, n)]
			if i%2 == 0 {
				_, err := s.RemoveMembers(ctx, "acme", gid, chunk, 0)
				return err
			}
			for _, id := range chunk {
				if _, err := s.RemoveMembers(ctx, "acme", gid, []string{id}, 0); err != nil {
					return err
				}
			}
			return nil
		})
		report(float64(n/50)/time.Since(start).Seconds(), "removes/s")
		if c, _ := s.MemberCount(ctx, "acme", gid); c != 0 {
			b.Fatalf("%d members left after the removals", c)
		}
		if err := s.Replace(ctx, "acme", resGroup(gid, "Everyone", ids...), 0); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, "acme", KindGroup, gid, 0); err != nil {
			b.Fatal(err)
		}
		slow, err := s.rdb.Do(ctx, "SLOWLOG", "GET", "10000").Slice()
		if err != nil {
			b.Fatal(err)
		}
		scripts := 0
		for _, e := range slow {
			x, _ := e.([]any)
			if len(x) < 4 {
				continue
			}
			args, _ := x[3].([]any)
			name := ""
			if len(args) > 0 {
				name, _ = args[0].(string)
			}
			if name != "evalsha" && name != "eval" {
				b.Logf("slow command (machine noise?): %v µs %s", x[2], name)
			} else {
				scripts++
				b.Logf("slow script: %v µs, %d arguments, op %v", x[2], len(args), args[min(len(args)-1, 9)])
			}
		}
		report(float64(len(slow)), "slowlog-entries")
		report(float64(scripts), "slow-scripts")
		if scripts > 0 {
			b.Fatalf("%d store scripts ran over 2 ms", scripts)
		}
	}
}

// inFlight runs op(0..n-1) with k in flight and returns each call's latency.
func inFlight(tb testing.TB, k, n int, op func(i int) error) []time.Duration {
	tb.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, k)
	for range k {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				if err := op(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		tb.Fatal(err)
	default:
	}
	return lat
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	c := slices.Clone(d)
	slices.Sort(c)
	return c[len(c)/2]
}
