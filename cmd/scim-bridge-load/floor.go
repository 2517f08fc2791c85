package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// floorRequests is the number of requests of each floor run, as many as the
// hot scenario's get.
const floorRequests = 20_000

// floors is what the floor measurement found, in µs of server CPU (server
// process plus redis-server) per request: a bare Go HTTP round trip, and
// one with a single Redis GET.
type floors struct {
	http, httpGet float64
}

// redis is the CPU of one Redis round trip: the difference of the two.
func (f floors) redis() float64 { return f.httpGet - f.http }

// floorScenario measures the floors of this machine today: a bare net/http
// server, a separate process built from this binary, answering a fixed SCIM
// user, and the same answering a value read by one GET from the run's
// redis-server. Driven like the hot path (same client, -inflight in flight,
// median of -runs runs), they put the hot path's figures in proportion.
func floorScenario(ctx context.Context, e *env, cfg config) (floors, error) {
	fmt.Printf("\n== floor: bare net/http server (separate process, GOMAXPROCS=2), %d in flight, server CPU = floor server + redis-server from /proc/<pid>/stat ==\n", cfg.inflight)
	if err := e.startFloor(ctx, cfg); err != nil {
		return floors{}, err
	}
	defer e.stopFloor()
	if err := fillFloorKeys(ctx, e.rdb); err != nil {
		return floors{}, err
	}
	defer func() {
		// The bridge's later figures (and Redis memory) should not see these.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := dropFloorKeys(dctx, e.rdb); err != nil {
			fmt.Fprintln(os.Stderr, "floor: delete keys:", err)
		}
	}()
	get := func(path func(i int) string) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			r, err := e.doURL(ctx, http.MethodGet, e.floorBase+path(i), nil)
			if err != nil {
				return err
			}
			if r.status != http.StatusOK || len(r.body) == 0 {
				return fmt.Errorf("GET %s: status %d: %.300s", path(i), r.status, r.body)
			}
			return nil
		}
	}
	var f floors
	for _, m := range []struct {
		label string
		into  *float64
		run   func(ctx context.Context, i int) error
	}{
		{"floor HTTP round trip", &f.http, get(func(int) string { return "/plain" })},
		{"floor HTTP + 1 Redis GET", &f.httpGet, get(func(i int) string { return fmt.Sprintf("/redis?k=%d", (i*7919)%floorKeys) })},
	} {
		// Warm up: connections, the redis pool, the server's first GC cycles.
		if o := parallel(ctx, floorRequests/10, cfg.inflight, m.run); o.errors > 0 {
			return floors{}, fmt.Errorf("%s: warm-up: %s", m.label, o)
		}
		var per, server, rates []float64
		for range cfg.runs {
			s, err := measureCPU(ctx, floorRequests, cfg.inflight, func() (time.Duration, time.Duration, error) { return e.cpuOf(e.floor) }, m.run)
			if err != nil {
				return floors{}, fmt.Errorf("%s: %w", m.label, err)
			}
			per, server, rates = append(per, s.perReq), append(server, s.server), append(rates, s.rate)
		}
		*m.into = median(per)
		fmt.Printf("%-25s server CPU/request median %5.1f µs (server %5.1f, redis %5.1f; runs %v); %.0f req/s\n",
			m.label, median(per), median(server), median(per)-median(server), rounded(per), median(rates))
	}
	fmt.Printf("%-25s server CPU/request        %5.1f µs (HTTP + 1 GET minus HTTP)\n", "floor Redis round trip", f.redis())
	return f, nil
}

// startFloor starts this binary as the floor server on a free loopback
// port, reading from the run's redis-server, and waits until it answers.
func (e *env) startFloor(ctx context.Context, cfg config) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("floor server: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := exec.CommandContext(ctx, exe, floorServerArg, "-listen", addr,
		"-redis", "redis://"+e.redisAddr+"/0", "-timeout", cfg.timeout.String())
	c.Env = append(os.Environ(), "GOMAXPROCS=2") // as the bridge
	log := logFile(e.dir, "floor.log")
	c.Stdout, c.Stderr = log, log
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	stdin, err := c.StdinPipe() // held open: the server stops at its EOF
	if err != nil {
		return fmt.Errorf("floor server: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start floor server: %w", err)
	}
	e.floor, e.floorStdin, e.floorBase = c, stdin, "http://"+addr
	if err := waitFor(ctx, func() error {
		r, err := e.doURL(ctx, http.MethodGet, e.floorBase+"/plain", nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("/plain: %d", r.status)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("floor server not ready (log in %s): %w", filepath.Join(e.dir, "floor.log"), err)
	}
	return nil
}

// stopFloor stops the floor server, if it runs: its stdin closed, SIGTERM.
func (e *env) stopFloor() {
	if e.floor == nil {
		return
	}
	_ = e.floorStdin.Close()
	if e.floor.Process != nil {
		_ = e.floor.Process.Signal(syscall.SIGTERM)
		waitExit(e.floor, 10*time.Second)
	}
	e.floor, e.floorStdin = nil, nil
}

// fillFloorKeys writes the floorKeys values the floor server reads.
func fillFloorKeys(ctx context.Context, rdb *redis.Client) error {
	return floorKeysPipelined(ctx, rdb, func(p redis.Pipeliner, k int) { p.Set(ctx, floorKey(k), floorValue(k), 0) })
}

// dropFloorKeys deletes them again.
func dropFloorKeys(ctx context.Context, rdb *redis.Client) error {
	return floorKeysPipelined(ctx, rdb, func(p redis.Pipeliner, k int) { p.Unlink(ctx, floorKey(k)) })
}

// floorKeysPipelined sends cmd for every floor key, 1,000 to a pipeline.
func floorKeysPipelined(ctx context.Context, rdb *redis.Client, cmd func(p redis.Pipeliner, k int)) error {
	const chunk = 1_000
	for from := 0; from < floorKeys; from += chunk {
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for k := from; k < min(from+chunk, floorKeys); k++ {
				cmd(p, k)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("floor keys: %w", err)
		}
	}
	return nil
}
