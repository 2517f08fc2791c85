package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// fakeRedis speaks just enough RESP2 to script a server's answers: reply
// decides the answer to each command (nil closes the connection without one).
type fakeRedis struct {
	ln    net.Listener
	reply func(args []string) []byte
	mu    sync.Mutex
	seen  []string
	wg    sync.WaitGroup
}

func startFakeRedis(t *testing.T, ln net.Listener, reply func(args []string) []byte) *fakeRedis {
	t.Helper()
	f := &fakeRedis{ln: ln, reply: reply}
	f.wg.Go(f.serve)
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeRedis) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				args, err := readRESPArray(r)
				if err != nil {
					return
				}
				f.mu.Lock()
				f.seen = append(f.seen, strings.ToLower(args[0]))
				f.mu.Unlock()
				var out []byte
				switch strings.ToLower(args[0]) {
				case "hello", "client":
					out = []byte("-ERR unknown command\r\n")
				default:
					out = f.reply(args)
				}
				if out == nil {
					return
				}
				if _, err := c.Write(out); err != nil {
					return
				}
			}
		})
	}
}

// count returns how many commands named name the server received.
func (f *fakeRedis) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.seen {
		if s == name {
			n++
		}
	}
	return n
}

func readRESPArray(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimSpace(hdr[1:]))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, l+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:l])
	}
	return args, nil
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestRetryWhileLoading: a server answering LOADING (a restart loading its
// data) is asked again with backoff until it answers.
func TestRetryWhileLoading(t *testing.T) {
	t.Parallel()
	var loading atomic.Int32
	loading.Store(3)
	f := startFakeRedis(t, listen(t), func(args []string) []byte {
		if loading.Add(-1) >= 0 {
			return []byte("-LOADING Redis is loading the dataset in memory\r\n")
		}
		if strings.EqualFold(args[0], "ping") {
			return []byte("+PONG\r\n")
		}
		return []byte("$-1\r\n") // GET: nil
	})
	s, err := Open(context.Background(), Options{URL: "redis://" + f.ln.Addr().String() + "/0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("open while loading: %v", err)
	}
	defer s.Close()
	if got := f.count("ping"); got != 4 {
		t.Fatalf("%d PINGs, want 4 (3 answered LOADING)", got)
	}
	// A write script answered LOADING did not run: it is sent again.
	loading.Store(2)
	_, err = s.Get(context.Background(), "acme", KindUser, "u1")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after LOADING: %v", err)
	}
	// A read pipeline answered LOADING is sent again too.
	loading.Store(2)
	if _, _, err := s.GetGroup(context.Background(), "acme", "g1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pipelined read after LOADING: %v", err)
	}
	// A context that ends stops the retries.
	loading.Store(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = s.Ping(ctx)
	if ra, ok := Unavailable(err); !ok || ra <= 0 {
		t.Fatalf("ping while loading for ever: %v (unavailable %v)", err, ok)
	}
}

// TestNoResendAfterLostReply: a write script whose reply is lost (the
// connection breaks after sending) is never sent again; the caller gets an
// error the HTTP layer answers with 503.
func TestNoResendAfterLostReply(t *testing.T) {
	t.Parallel()
	f := startFakeRedis(t, listen(t), func(args []string) []byte {
		switch strings.ToLower(args[0]) {
		case "ping":
			return []byte("+PONG\r\n")
		case "evalsha", "eval":
			return nil // ran, maybe; the reply is lost
		}
		return []byte("-ERR unexpected\r\n")
	})
	s, err := Open(context.Background(), Options{URL: "redis://" + f.ln.Addr().String() + "/0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Create(context.Background(), "acme", resUser("u1", "ada", nil))
	if err == nil {
		t.Fatal("create succeeded without a reply")
	}
	if n := f.count("evalsha") + f.count("eval"); n != 1 {
		t.Fatalf("the write script was sent %d times, want once", n)
	}
	if _, ok := Unavailable(err); !ok {
		t.Fatalf("lost reply %v not classified unavailable", err)
	}
}

// TestRetryRefusedConnection: while nothing listens (Redis restarting), a call
// waits with backoff and succeeds once the server is back.
func TestRetryRefusedConnection(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	addr := ln.Addr().String()
	pong := func([]string) []byte { return []byte("+PONG\r\n") }
	startFakeRedis(t, ln, pong)
	s, err := Open(context.Background(), Options{URL: "redis://" + addr + "/0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln.Close() // the server goes away; pooled connections break
	time.Sleep(20 * time.Millisecond)
	back := make(chan struct{})
	go func() {
		defer close(back)
		time.Sleep(150 * time.Millisecond)
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again: %v", err)
			return
		}
		startFakeRedis(t, ln2, pong)
	}()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping across a restart: %v", err)
	}
	<-back
}

func TestUnavailableClassifier(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("get user u1: %w", err) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"loading", wrap(redisError("LOADING Redis is loading the dataset in memory")), true},
		{"cluster down", wrap(redisError("CLUSTERDOWN The cluster is down")), true},
		{"try again", wrap(redisError("TRYAGAIN Multiple keys request during rehashing of slot")), true},
		{"refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"reset", wrap(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"eof", wrap(io.EOF), true},
		{"pool timeout", wrap(redis.ErrPoolTimeout), true},
		{"not found", wrap(ErrNotFound), false},
		{"conflict", wrap(&ConflictError{Attr: "userName"}), false},
		{"precondition", wrap(ErrPrecondition), false},
		{"cancelled", wrap(context.Canceled), false},
		{"script error", wrap(redisError("ERR Error running script")), false},
		{"out of memory", wrap(redisError("OOM command not allowed when used memory > 'maxmemory'.")), true},
	}
	for _, c := range cases {
		if _, got := Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	// Only what did not run (or only reads) is retried.
	if safeToRetry("evalsha", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}) {
		t.Error("a write script with a lost reply would be re-sent")
	}
	if safeToRetry("evalsha", redisError("OOM command not allowed when used memory > 'maxmemory'.")) {
		t.Error("a write script refused for memory would be re-sent (it may have written part)")
	}
	if !safeToRetry("evalsha", redisError("LOADING loading")) || !safeToRetry("get", io.EOF) {
		t.Error("LOADING or a read on a broken connection not retried")
	}
}

// redisError is an error reply of the server, as go-redis returns it.
type redisError string

func (e redisError) Error() string { return string(e) }
func (e redisError) RedisError()   {}
