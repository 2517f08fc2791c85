package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Defaults of the shared HTTP discipline.
const (
	DefaultTimeout  = 15 * time.Second
	UserAgent       = "scim-bridge/1"
	maxErrorBody    = 4 << 10
	maxResponseBody = 32 << 20
)

// NewHTTPClient returns a client with a keep-alive pool sized for a connector and
// sane transport timeouts. The per-request timeout comes from the context set by
// Client.Do.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	return &http.Client{Transport: tr}
}

// Client is the HTTP discipline every adapter shares: base URL, authorization,
// User-Agent, per-request timeout bound to ctx, a Throttle consulted before
// every request and fed with its outcome, JSON bodies, and classified errors
// that never carry the credentials.
type Client struct {
	HTTP    *http.Client
	BaseURL string // without trailing slash
	// Authorize sets the credentials on a request (e.g. "Authorization: Bearer t").
	Authorize func(*http.Request)
	// Throttle paces the requests; nil sends them unpaced.
	Throttle Throttle
	Timeout  time.Duration
	// ContentType for request bodies; "" means application/json.
	ContentType string
	Now         func() time.Time
	// Secrets are strings that must never appear in an error (tokens, secrets); the
	// client redacts them from downstream messages.
	Secrets []string
	// Observe, when set, is told the status and duration of every request sent.
	Observe HTTPObserver
}

// NewClient builds a Client from the Base keys of a connector entry, with a
// throttle of this process alone made from them (NewThrottle).
func NewClient(b Base, hc *http.Client, authorize func(*http.Request), secrets ...string) (*Client, error) {
	return Deps{Client: hc}.NewClient(b, authorize, secrets...)
}

// NewClient builds a Client from the Base keys of a connector entry with the
// HTTP client, throttle and clock of d: d.Throttle when set, else a throttle of
// this process alone made from the Base keys.
func (d Deps) NewClient(b Base, authorize func(*http.Request), secrets ...string) (*Client, error) {
	hc := d.Client
	if hc == nil {
		hc = NewHTTPClient()
	}
	timeout := DefaultTimeout
	if b.Timeout != "" {
		d, err := time.ParseDuration(b.Timeout)
		if err != nil || d <= 0 {
			return nil, &FieldError{Key: "timeout", Msg: fmt.Sprintf("not a positive duration: %q", b.Timeout)}
		}
		timeout = d
	}
	th := d.Throttle
	if th == nil {
		o := b.ThrottleOptions()
		o.Now = d.Now
		th = NewThrottle(o)
	}
	return &Client{
		HTTP:      hc,
		BaseURL:   strings.TrimRight(b.URL, "/"),
		Authorize: authorize,
		Throttle:  th,
		Timeout:   timeout,
		Now:       d.Now,
		Secrets:   append([]string{b.Token, b.WebhookSecret}, secrets...),
	}, nil
}

// Do sends method path (relative to BaseURL, may carry a query) with in as JSON body
// (nil for none) and decodes a 2xx JSON answer into out (nil to discard). It returns
// the status of a 2xx answer; any other status is a classified *Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (int, error) {
	op := method + " " + stripQuery(path)
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, &Error{Class: Permanent, Op: op, Msg: "encode request", Err: err}
		}
		body = bytes.NewReader(b)
	}
	report := func(Feedback) {}
	if c.Throttle != nil {
		done, err := c.Throttle.Acquire(ctx)
		if err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				ce.Op = op + " (" + ce.Op + ")"
				return 0, ce
			}
			return 0, &Error{Class: Retryable, Op: op, Msg: "throttle", Err: err}
		}
		report = done
	}
	parent := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		report(Feedback{})
		return 0, &Error{Class: Permanent, Op: op, Msg: "build request", Err: errors.New(c.redact(err.Error()))}
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		ct := c.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.Authorize != nil {
		c.Authorize(req)
	}
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if c.Observe != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.Observe(status, time.Since(start))
	}
	if err != nil {
		// The caller giving up says nothing about the downstream.
		report(Feedback{Timeout: parent.Err() == nil})
		return 0, &Error{Class: Retryable, Op: op, Err: errors.New(c.redact(err.Error()))}
	}
	defer resp.Body.Close()
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	report(Feedback{Status: resp.StatusCode, Hold: HoldOf(resp.StatusCode, resp.Header, now())})
	if class := ClassifyStatus(resp.StatusCode); class != 0 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, &Error{
			Class:      class,
			Op:         op,
			Status:     resp.StatusCode,
			RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now()),
			Msg:        c.redact(strings.TrimSpace(string(msg))),
		}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return resp.StatusCode, &Error{Class: Permanent, Op: op, Status: resp.StatusCode, Msg: "decode response", Err: err}
	}
	return resp.StatusCode, nil
}

// redact removes every configured secret from s.
func (c *Client) redact(s string) string {
	for _, sec := range c.Secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

func stripQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}
