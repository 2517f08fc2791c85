package main

import (
	"context"
	"fmt"
	"regexp"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// redisLogger writes the lines go-redis logs by itself (a pool that cannot
// dial, a sentinel failover) through the process logger, as warnings tagged
// "component":"redis-client". Without it go-redis prints plain text on stderr,
// in the middle of the JSON log, just when Redis is failing.
type redisLogger struct {
	log zerolog.Logger
}

// Printf implements go-redis's internal.Logging (see redis.SetLogger).
func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Str("component", "redis-client").Msg(redactUserinfo(fmt.Sprintf(format, v...)))
}

// installRedisLogger makes go-redis log through log. go-redis keeps one logger
// per process, so only the commands that own the process log (serve, sandbox)
// call it, once their logger is built.
func installRedisLogger(log zerolog.Logger) {
	redis.SetLogger(redisLogger{log: log})
}

// urlUserinfo matches the userinfo of a URL ("redis://user:pass@"), up to the
// last "@" before the host, so a password holding an unescaped "@" goes too.
var urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s]*@`)

// redactUserinfo replaces every URL userinfo in s. The lines go-redis logs
// are about connections and carry addresses, not URLs; this holds if one ever
// quotes the URL it was given, whose userinfo may be a Redis password.
func redactUserinfo(s string) string {
	return urlUserinfo.ReplaceAllString(s, "${1}xxxxx@")
}
