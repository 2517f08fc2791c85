package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

const batch = 50 // Okta pushes 50 members per PATCH

// memberOps builds a member PATCH of ids: Okta's add, Entra's remove with a
// value list.
func memberOps(op string, ids []string) []byte {
	vs := make([]any, len(ids))
	for i, id := range ids {
		vs[i] = map[string]any{"value": id}
	}
	return must(map[string]any{"schemas": []string{patchOpSchema},
		"Operations": []any{map[string]any{"op": op, "path": "members", "value": vs}}})
}

// removeOne is Okta's removal of one member.
func removeOne(id string) []byte {
	return must(map[string]any{"schemas": []string{patchOpSchema},
		"Operations": []any{map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)}}})
}

func groupScenario(ctx context.Context, e *env, cfg config) error {
	n := cfg.members
	spare := cfg.inflight * batch // the latency probes' own members
	fmt.Printf("\n== group: %d users, one group grown to %d by PATCHes of %d ==\n", n+spare, n, batch)
	ids, o := createUsers(ctx, e, "m", n+spare, cfg.inflight*2)
	fmt.Printf("create users: %s\n", o)
	if o.errors > 0 {
		return o.firstErr
	}
	members, probeIDs := ids[:n], ids[n:]
	r, err := e.expect(ctx, http.StatusCreated, http.MethodPost, "/Groups",
		must(map[string]any{"schemas": []string{groupSchema}, "displayName": "All employees"}))
	if err != nil {
		return err
	}
	var g struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &g); err != nil {
		return err
	}
	gpath := "/Groups/" + g.ID
	if err := e.compactAOF(ctx, false); err != nil {
		return err
	}
	rw0, err := e.aofRewrites(ctx)
	if err != nil {
		return err
	}
	if err := e.rdb.ConfigSet(ctx, "slowlog-log-slower-than", "2000").Err(); err != nil {
		return err
	}
	if err := e.rdb.SlowLogReset(ctx).Err(); err != nil {
		return err
	}
	if err := e.rdb.ConfigResetStat(ctx).Err(); err != nil {
		return err
	}
	fmt.Println("redis: CONFIG SET slowlog-log-slower-than 2000; SLOWLOG RESET")

	patch := func(body []byte) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			_, err := e.expect(ctx, http.StatusNoContent, http.MethodPatch, gpath, body)
			return err
		}
	}
	addBatch := func(from, to int) outcome {
		return parallel(ctx, (to-from)/batch, cfg.inflight, func(ctx context.Context, i int) error {
			s := from + i*batch
			return patch(memberOps("add", members[s:s+batch]))(ctx, i)
		})
	}
	// probe: each of inflight workers adds its own 50 members and removes
	// them again, rounds times, so the group ends at the size it had.
	probe := func(label string) (time.Duration, error) {
		const rounds = 50
		lat := make([]time.Duration, cfg.inflight*rounds*2)
		o := parallel(ctx, cfg.inflight, cfg.inflight, func(ctx context.Context, w int) error {
			mine := probeIDs[w*batch : (w+1)*batch]
			add, remove := memberOps("add", mine), memberOps("remove", mine)
			for r := range rounds * 2 {
				body := add
				if r%2 == 1 {
					body = remove
				}
				t0 := time.Now()
				if _, err := e.expect(ctx, http.StatusNoContent, http.MethodPatch, gpath, body); err != nil {
					return err
				}
				lat[w*rounds*2+r] = time.Since(t0)
			}
			return nil
		})
		o.n, o.lat = len(lat), lat
		fmt.Printf("latency probe at %s members (%d workers each adding and removing its 50): %s\n", label, cfg.inflight, o)
		if o.errors > 0 {
			return 0, o.firstErr
		}
		return quantile(o.lat, .5), nil
	}

	grow1 := addBatch(0, 1000)
	p1, err := probe("1,000")
	if err != nil {
		return err
	}
	b0, r0, err := e.serverCPU()
	if err != nil {
		return err
	}
	stopProfile, err := e.profile(ctx, "group-grow")
	if err != nil {
		return err
	}
	growRest := addBatch(1000, n)
	if err := stopProfile(); err != nil {
		return err
	}
	b1, r1, err := e.serverCPU()
	if err != nil {
		return err
	}
	grow := outcome{n: grow1.n + growRest.n, errors: grow1.errors + growRest.errors, elapsed: grow1.elapsed + growRest.elapsed,
		lat: append(grow1.lat, growRest.lat...), firstErr: errors.Join(grow1.firstErr, growRest.firstErr)}
	fmt.Printf("grow to %d (%d PATCHes of %d, %d in flight): %s\n", n, grow.n, batch, cfg.inflight, grow)
	fmt.Printf("  server CPU per member PATCH from 1,000 on: bridge %.0f µs, redis-server %.0f µs\n",
		float64((b1-b0).Microseconds())/float64(growRest.n), float64((r1-r0).Microseconds())/float64(growRest.n))
	if err := commandStats(ctx, e, 0); err != nil {
		return err
	}
	if rw1, err := e.aofRewrites(ctx); err != nil {
		return err
	} else if rw1 > rw0 {
		fmt.Printf("  (redis-server rewrote its AOF during the growth: %d rewrite(s) shared the CPUs)\n", rw1-rw0)
	}
	pN, err := probe(fmt.Sprint(n))
	if err != nil {
		return err
	}
	count, err := memberCount(ctx, e, gpath)
	if err != nil {
		return err
	}
	fmt.Printf("members after growth: %d (want %d)\n", count, n)
	fmt.Printf("member PATCH p50 at %d / p50 at 1,000: %s / %s = %.2f\n", n, ms(pN), ms(p1), float64(pN)/float64(p1))

	// GET without members, many at once.
	o = parallel(ctx, 20_000, cfg.inflight, func(ctx context.Context, i int) error {
		_, err := e.expect(ctx, http.StatusOK, http.MethodGet, gpath+"?excludedAttributes=members", nil)
		return err
	})
	fmt.Printf("GET ?excludedAttributes=members at %d members: %s\n", n, o)

	if err := fullGet(ctx, e, gpath, members); err != nil {
		return err
	}

	// Remove all in batches of 50 (Entra's value-list remove).
	if stopProfile, err = e.profile(ctx, "group-remove"); err != nil {
		return err
	}
	o = parallel(ctx, n/batch, cfg.inflight, func(ctx context.Context, i int) error {
		return patch(memberOps("Remove", members[i*batch:(i+1)*batch]))(ctx, i)
	})
	if err := stopProfile(); err != nil {
		return err
	}
	fmt.Printf("remove %d in PATCHes of %d: %s\n", n, batch, o)
	if count, err = memberCount(ctx, e, gpath); err != nil {
		return err
	}
	fmt.Printf("members after removal: %d (want 0)\n", count)

	// One-member removals (Okta's members[value eq "id"]).
	single := members[:cfg.single]
	if o := addBatchOf(ctx, e, gpath, single, cfg.inflight); o.errors > 0 {
		return o.firstErr
	}
	o = parallel(ctx, len(single), cfg.inflight, func(ctx context.Context, i int) error {
		return patch(removeOne(single[i]))(ctx, i)
	})
	fmt.Printf("remove %d one PATCH each (members[value eq \"id\"]): %s\n", len(single), o)
	if count, err = memberCount(ctx, e, gpath); err != nil {
		return err
	}
	fmt.Printf("members after one-by-one removal: %d (want 0)\n", count)
	return slowlog(ctx, e)
}

// addBatchOf adds ids to the group in PATCHes of 50.
func addBatchOf(ctx context.Context, e *env, gpath string, ids []string, inflight int) outcome {
	return parallel(ctx, (len(ids)+batch-1)/batch, inflight, func(ctx context.Context, i int) error {
		_, err := e.expect(ctx, http.StatusNoContent, http.MethodPatch, gpath, memberOps("add", ids[i*batch:min((i+1)*batch, len(ids))]))
		return err
	})
}

// memberCount counts the members a full GET returns.
func memberCount(ctx context.Context, e *env, gpath string) (int, error) {
	r, err := e.expect(ctx, http.StatusOK, http.MethodGet, gpath+"?attributes=members.value", nil)
	if err != nil {
		return 0, err
	}
	var g struct {
		Members []struct{ Value string } `json:"members"`
	}
	if err := json.Unmarshal(r.body, &g); err != nil {
		return 0, err
	}
	return len(g.Members), nil
}

// fullGet reads the whole group, checks every member against want, and
// reports the bridge's heap growth while it answered.
func fullGet(ctx context.Context, e *env, gpath string, want []string) error {
	base, err := e.heapInuse(ctx)
	if err != nil {
		return err
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if h, err := e.heapInuse(ctx); err == nil && h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	t0 := time.Now()
	r, err := e.expect(ctx, http.StatusOK, http.MethodGet, gpath, nil)
	elapsed := time.Since(t0)
	close(stop)
	<-done
	if err != nil {
		return err
	}
	var g struct {
		DisplayName string `json:"displayName"`
		Members     []struct {
			Value, Display, Type string
			Ref                  string `json:"$ref"`
		} `json:"members"`
	}
	if err := json.Unmarshal(r.body, &g); err != nil {
		return fmt.Errorf("full GET: %w", err)
	}
	wanted := make(map[string]string, len(want)) // id → display
	for i, id := range want {
		wanted[id] = fmt.Sprintf("Load User%07d", i)
	}
	bad := 0
	for _, m := range g.Members {
		if d, ok := wanted[m.Value]; !ok || m.Display != d || m.Type != "User" || !strings.HasSuffix(m.Ref, "/Users/"+m.Value) {
			bad++
		}
		delete(wanted, m.Value)
	}
	fmt.Printf("full GET: %d members, %d missing, %d wrong, %.1f MB in %s; bridge heap in use %.1f MB before, peak %.1f MB during (+%.1f MB)\n",
		len(g.Members), len(wanted), bad, float64(len(r.body))/1e6, ms(elapsed),
		float64(base)/1e6, float64(max(peak.Load(), base))/1e6, float64(max(peak.Load()-base, 0))/1e6)
	if len(wanted) > 0 || bad > 0 || len(g.Members) != len(want) {
		return errors.New("full GET does not answer the group's members")
	}
	return nil
}

// slowlog prints the length of Redis's SLOWLOG and its entries.
func slowlog(ctx context.Context, e *env) error {
	n, err := e.rdb.Do(ctx, "SLOWLOG", "LEN").Int64()
	if err != nil {
		return err
	}
	fmt.Printf("redis SLOWLOG LEN (over 2 ms): %d\n", n)
	if n > 0 {
		entries, err := e.rdb.SlowLogGet(ctx, 10).Result()
		if err != nil {
			return err
		}
		for _, s := range entries {
			args := s.Args
			if len(args) > 3 {
				args = args[:3]
			}
			fmt.Printf("  %s %v\n", s.Duration, args)
		}
	}
	return nil
}

// commandStats prints Redis's own time per call of the busiest commands since
// the statistics were reset (INFO commandstats): what a script costs inside
// Redis, apart from the machine's scheduling noise in wall-clock figures.
//
// With requests > 0 it also prints each command's Redis time per request.
func commandStats(ctx context.Context, e *env, requests int) error {
	info, err := e.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return err
	}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var calls int64
		var usec, per float64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				fmt.Sscan(v, &calls)
			case "usec":
				fmt.Sscan(v, &usec)
			case "usec_per_call":
				fmt.Sscan(v, &per)
			}
		}
		switch {
		case requests > 0 && usec/float64(requests) >= 1:
			fmt.Printf("  redis %-10s %5.2f calls and %5.1f µs inside Redis per request\n",
				strings.TrimPrefix(name, "cmdstat_"), float64(calls)/float64(requests), usec/float64(requests))
		case requests == 0 && usec > 100_000:
			fmt.Printf("  redis %-10s %8d calls, %7.1f µs per call inside Redis\n", strings.TrimPrefix(name, "cmdstat_"), calls, per)
		}
	}
	return nil
}
