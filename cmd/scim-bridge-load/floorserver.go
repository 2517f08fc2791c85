package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// floorServerArg, as the first argument, turns this binary into the floor
// server: the load tool starts itself with it (floor.go). It is not in the
// usage.
const floorServerArg = "-floor-server"

const (
	floorKeys      = 10_000 // keys the floor server's GET reads
	floorValueSize = 1024   // bytes per key
	scimJSON       = "application/scim+json"
)

// floorServerMain runs the floor server until SIGTERM, until its stdin
// ends (the load tool holds it open: EOF means the tool has gone) or until
// -timeout.
func floorServerMain(args []string) int {
	fs := flag.NewFlagSet("scim-bridge-load "+floorServerArg, flag.ContinueOnError)
	listen := fs.String("listen", "", "loopback address to listen on (host:port)")
	redisURL := fs.String("redis", "", "redis:// URL of the redis-server to GET from")
	timeout := fs.Duration("timeout", 30*time.Minute, "stop after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := serveFloor(ctx, *listen, *redisURL); err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		return 1
	}
	return 0
}

// serveFloor serves floorHandler on listen (a loopback address only) until
// ctx ends.
func serveFloor(ctx context.Context, listen, redisURL string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen address: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q: not a loopback IP", listen)
	}
	rdb, err := floorRedis(redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: floorHandler(rdb), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// floorRedis builds the client the way the bridge's store does for a
// redis:// URL (go-redis ParseURL, a pool of at least 64, go-redis's own
// retries off); the store's retry hook is left out, it adds nothing to a GET
// that succeeds.
func floorRedis(rawURL string) (*redis.Client, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	o.PoolSize = max(o.PoolSize, 64)
	o.MaxRetries = -1
	return redis.NewClient(o), nil
}

// floorHandler is the floor server, with no middleware:
//
//	GET /plain       200, a fixed SCIM user of about 700 bytes
//	GET /redis?k=N   200, the value of floorKey(N), read by one GET
func floorHandler(rdb redis.UniversalClient) http.Handler {
	plain := floorUser(0)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /plain", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", scimJSON)
		_, _ = w.Write(plain)
	})
	mux.HandleFunc("GET /redis", func(w http.ResponseWriter, r *http.Request) {
		k, err := strconv.Atoi(r.URL.Query().Get("k"))
		if err != nil {
			http.Error(w, "k: not a number", http.StatusBadRequest)
			return
		}
		v, err := rdb.Get(r.Context(), floorKey(k)).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			http.Error(w, "no such key", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, "redis: "+err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", scimJSON)
		_, _ = w.Write(v)
	})
	return mux
}

// floorKey is the Redis key of the floor's k-th value.
func floorKey(k int) string { return "scim-bridge-load:floor:" + strconv.Itoa(k) }

// floorUser is a SCIM user as the bridge answers a GET of it: Okta's body
// with an id and meta.
func floorUser(i int) []byte {
	id := fmt.Sprintf("%08x-4f1c-4c2a-9d3e-%012x", i, i)
	doc := oktaUserDoc("f", i, "Floor")
	doc["id"] = id
	doc["meta"] = map[string]any{
		"resourceType": "User",
		"created":      "2026-12-01T09:00:00Z",
		"lastModified": "2026-12-01T09:00:00Z",
		"version":      `W/"1"`,
		"location":     "http://127.0.0.1/scim/v2/Users/" + id,
	}
	return must(doc)
}

// floorValue is the floor's k-th Redis value: floorUser(k) padded with
// spaces (still JSON) to floorValueSize bytes.
func floorValue(k int) []byte {
	u := floorUser(k)
	return append(u, strings.Repeat(" ", max(0, floorValueSize-len(u)))...)
}
