// Command scim-bridge-load measures a built scim-bridge binary the way an
// operator would: it starts a real redis-server (AOF on) and the bridge as
// separate processes on 127.0.0.1, drives them over HTTP with IdP-shaped
// requests and a bounded number in flight, prints the figures and stops both.
// It sends traffic to 127.0.0.1 only and ends by itself.
//
//	go build -o /tmp/scim-bridge ./cmd/scim-bridge
//	go run ./cmd/scim-bridge-load -bin /tmp/scim-bridge -scenario group
//	go run ./cmd/scim-bridge-load -bin /tmp/scim-bridge -scenario hot -runs 3
//	go run ./cmd/scim-bridge-load -bin /tmp/scim-bridge -scenario floor -runs 3
//
// Scenarios:
//   - group: one group grown to -members members by PATCHes of 50 (Okta's
//     batch) with -inflight in flight; member PATCH latency probed at 1,000
//     and at full size; GET ?excludedAttributes=members throughput; a full
//     GET checked member by member with the bridge's heap growth; all members
//     removed in batches of 50 (Entra's value-list remove), then a group of
//     -single members removed one PATCH each (Okta's members[value eq "id"]);
//     Redis SLOWLOG (threshold 2 ms) before and after.
//   - hot: server CPU per request (bridge plus redis-server, from
//     /proc/<pid>/stat, divided by requests) of create, get, userName eq,
//     a 3-operation PATCH and PUT with Okta/Entra-shaped bodies on -users
//     users; the median of -runs runs. It starts with the floor and prints,
//     per operation, how far above the HTTP + 1 Redis GET floor it is
//     ("floor+"), so runs on different days (or machines) compare.
//   - floor: what this machine charges today for the least a request can
//     cost. The tool starts itself again as a floor server (a separate
//     process, a bare net/http server without middleware, GOMAXPROCS=2 as
//     the bridge) and drives it like the hot path (20,000 requests a run,
//     -inflight in flight, the median of -runs runs): GET /plain answers a
//     fixed 700-byte SCIM user; GET /redis?k=N answers a 1 KB value read by
//     one GET from the run's redis-server (go-redis, configured as the
//     bridge's store configures it). Server CPU per request is the floor
//     server's plus redis-server's; the Redis round trip is the difference
//     of the two. The floor server stops with the tool, and by itself when
//     the tool goes (its stdin ends).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) > 1 && os.Args[1] == floorServerArg {
		return floorServerMain(os.Args[2:])
	}
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "path of the built scim-bridge binary (required)")
	flag.StringVar(&cfg.redisServer, "redis-server", "redis-server", "redis-server executable")
	flag.StringVar(&cfg.scenario, "scenario", "all", "group, hot, floor or all (hot includes floor)")
	flag.IntVar(&cfg.members, "members", 100_000, "group scenario: members to grow the group to (a multiple of 50)")
	flag.IntVar(&cfg.single, "single", 10_000, "group scenario: members removed one PATCH each")
	flag.IntVar(&cfg.users, "users", 10_000, "hot scenario: users in the directory")
	flag.IntVar(&cfg.inflight, "inflight", 8, "requests in flight")
	flag.IntVar(&cfg.runs, "runs", 3, "hot and floor scenarios: runs per operation (the median is reported)")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "stop everything after this long")
	flag.StringVar(&cfg.profile, "profile", "", "write a CPU profile of the bridge per measured phase into this directory (needs a binary built with -tags pprof)")
	flag.Parse()
	if cfg.bin == "" {
		fmt.Fprintln(os.Stderr, "scim-bridge-load: -bin is required (go build -o /tmp/scim-bridge ./cmd/scim-bridge)")
		return 2
	}
	if cfg.members%50 != 0 || cfg.members < 2_000 {
		fmt.Fprintln(os.Stderr, "scim-bridge-load: -members must be a multiple of 50, at least 2000")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	env, err := start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scim-bridge-load:", err)
		return 1
	}
	defer env.close()
	fmt.Printf("bridge pid %d, redis-server pid %d (AOF appendfsync everysec), %d in flight\n",
		env.bridge.Process.Pid, env.redis.Process.Pid, cfg.inflight)
	ok := true
	if cfg.scenario == "group" || cfg.scenario == "all" {
		if err := groupScenario(ctx, env, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "group scenario:", err)
			ok = false
		}
	}
	if cfg.scenario == "floor" {
		if _, err := floorScenario(ctx, env, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "floor scenario:", err)
			ok = false
		}
	}
	if cfg.scenario == "hot" || cfg.scenario == "all" {
		if err := hotScenario(ctx, env, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "hot scenario:", err)
			ok = false
		}
	}
	if !ok {
		return 1
	}
	return 0
}

// config holds the flags.
type config struct {
	bin, redisServer, scenario string
	members, single, users     int
	inflight, runs             int
	timeout                    time.Duration
	profile                    string
}
