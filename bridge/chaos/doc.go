// Package chaos holds the out-of-process failure test of scim-bridge (issue
// 11): a real redis-server with AOF on 127.0.0.1 (and a six-node Redis
// Cluster), two bridge replicas as separate processes of the built binary,
// the four fake downstream APIs answering 10% 500s and 1% 429s, kill -9 of a
// replica at random points, an ordinary Redis restart, and a CLUSTER FAILOVER
// mid-load. It prints lost, duplicates, store vs acknowledged, dead letters
// and the convergence time after the last fault.
//
// It takes minutes and is not part of CI; run it with:
//
//	go test -tags chaos -run Chaos ./bridge/chaos/ -v -timeout 60m
//
// CHAOS_USERS (default 2000) and CHAOS_RUNS (default 3) size it;
// CHAOS_CLUSTER=0 skips the cluster run; CHAOS_429_PM sets the downstream
// 429s per thousand requests (default 10; each holds its connector on every
// replica for its Retry-After: 1, as the throttle must); CHAOS_FAULTS=0 runs the same load
// without kills, restarts or failovers (the downstream faults stay), as a
// baseline; CHAOS_TRACE=1 prints a timeline of each run (per second and per
// downstream the requests, 500s and 429s; after the load, the queue and per
// connector the subjects retrying, the 429s seen and whether it is held).
package chaos
