package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestRedisLoggerWritesOneJSONLine: a go-redis log line becomes one JSON line
// at warn level, tagged component=redis-client, with its message, and no URL
// userinfo (a Redis password) survives in it.
func TestRedisLoggerWritesOneJSONLine(t *testing.T) {
	t.Parallel()
	const secret = "s3cr@t-pw"
	tests := []struct {
		name, format string
		args         []any
		want         string
	}{
		{"pool", "redis: connection pool: failed to dial after %d attempts: %v", []any{5, "dial tcp 127.0.0.1:6379: connect: connection refused"},
			"redis: connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:6379: connect: connection refused"},
		{"user and password", "redis: cannot connect to %s", []any{"redis://admin:" + secret + "@10.0.0.7:6379/0"},
			"redis: cannot connect to redis://xxxxx@10.0.0.7:6379/0"},
		{"password only", "sentinel: %s failed", []any{"rediss://:" + secret + "@sentinel:26379"},
			"sentinel: rediss://xxxxx@sentinel:26379 failed"},
		{"password as user", "url %q", []any{"redis://" + secret + "@h:1"},
			`url "redis://xxxxx@h:1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			redisLogger{log: zerolog.New(&buf).With().Timestamp().Logger()}.Printf(context.Background(), tc.format, tc.args...)
			out := buf.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("want one line, got %q", out)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(out), &line); err != nil {
				t.Fatalf("not a JSON line: %v: %q", err, out)
			}
			if line["level"] != "warn" || line["component"] != "redis-client" || line["message"] != tc.want {
				t.Errorf("got %v, want level warn, component redis-client, message %q", line, tc.want)
			}
			if strings.Contains(out, "s3cr") || strings.Contains(out, "t-pw") {
				t.Errorf("the password is in the log: %q", out)
			}
		})
	}
}

// TestServeLogsRedisClientAsJSON: go-redis's own lines while Redis cannot be
// reached (its pool failing to dial) reach serve's log as JSON lines, not
// plain text on the process's stderr, and the URL's password is not among
// them.
//
// Not parallel: go-redis has one logger per process, which every serve
// command of the parallel tests replaces; they wait until this test is done.
func TestServeLogsRedisClientAsJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connections to addr are refused from now on
	const secret = "s3cret-redis-pw"
	cmd := startCommand(t, serveCmd, envFunc(map[string]string{
		"SCIM_BRIDGE_LISTEN": "127.0.0.1:0",
		"SCIM_BRIDGE_REDIS":  "redis://default:" + secret + "@" + addr + "/0",
		"SCIM_BRIDGE_TOKEN":  strings.Repeat("t", 32),
	}))
	if code := cmd.wait(t); code != 1 {
		t.Fatalf("serve without Redis exited %d, want 1", code)
	}
	out := cmd.stderr.String()
	if strings.Contains(out, secret) {
		t.Errorf("the Redis password is in the log:\n%s", out)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Errorf("a log line is not JSON: %q", l)
			continue
		}
		if line["component"] == "redis-client" && line["level"] == "warn" && strings.Contains(line["message"].(string), "failed to dial") {
			found = true
		}
	}
	if !found {
		t.Errorf("no redis-client line about the failed dials in serve's log:\n%s", out)
	}
}
