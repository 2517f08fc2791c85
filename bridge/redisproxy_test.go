package bridge

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// proxyMode is what a redisProxy does with connections.
type proxyMode int

const (
	proxyUp      proxyMode = iota // forward to Redis
	proxyDown                     // refuse connections (Redis stopped)
	proxyLoading                  // answer every command LOADING (Redis restarting)
)

// redisProxy sits between the store and a real redis-server on 127.0.0.1 and
// plays a Redis outage: down (connections refused) or loading. Every change of
// mode drops the open connections, as a Redis restart does.
type redisProxy struct {
	tb     testing.TB
	target string
	addr   string

	mu    sync.Mutex
	mode  proxyMode
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startRedisProxy(tb testing.TB, redisURL string) *redisProxy {
	tb.Helper()
	p := &redisProxy{tb: tb, target: strings.TrimPrefix(redisURL, "redis://"), conns: map[net.Conn]struct{}{}}
	if i := strings.IndexByte(p.target, '/'); i >= 0 {
		p.target = p.target[:i]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	tb.Cleanup(func() { p.set(proxyDown) })
	return p
}

// URL is the redis:// URL of the proxy.
func (p *redisProxy) URL() string { return "redis://" + p.addr }

func (p *redisProxy) serve(ln net.Listener) {
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			mode := p.mode
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			if mode == proxyLoading {
				go answerLoading(c)
			} else {
				go p.forward(c)
			}
		}
	}()
}

// set switches the mode, dropping every open connection.
func (p *redisProxy) set(mode proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
	switch {
	case mode == proxyDown && p.ln != nil:
		_ = p.ln.Close()
		p.ln = nil
	case mode != proxyDown && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.tb.Errorf("proxy listen again on %s: %v", p.addr, err)
			return
		}
		p.serve(ln)
	}
	p.mode = mode
}

func (p *redisProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

// answerLoading reads RESP commands and answers each as a loading Redis does.
func answerLoading(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		if err := skipCommand(r); err != nil {
			return
		}
		if _, err := io.WriteString(c, "-LOADING Redis is loading the dataset in memory\r\n"); err != nil {
			return
		}
	}
}

// skipCommand reads one RESP array of bulk strings.
func skipCommand(r *bufio.Reader) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "*") {
		return errors.New("not an array")
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return err
	}
	for range n {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil {
			return err
		}
		if _, err := r.Discard(size + 2); err != nil {
			return err
		}
	}
	return nil
}
