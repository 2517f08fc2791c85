// Package fakeserver holds what every fake downstream server shares: fault
// injection (failures, 429 bursts with Retry-After, latency), the request log,
// and write counters.
//
// Each fake keeps its own routes, error bodies and the order in which it
// applies latency, faults and authentication; it holds a Faults and a Log and
// delegates its FailNext, RateLimitNext, Latency, Requests, Writes,
// DuplicateWrites and ResetCounters to them. Only fakes import this package,
// never an adapter.
package fakeserver
