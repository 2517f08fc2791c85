// Package conntest is the shared test suite every connector adapter runs: one table
// of downstream answers → error classes, a check that no credential ever
// appears in an error or a log line, and — against the adapter's fake
// downstream — a check that converging twice writes nothing the second time.
package conntest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Harness opens the adapter under test against url with the given credentials.
type Harness struct {
	// Open returns the adapter configured with url as its base URL and token (and
	// secret, for adapters with a second credential such as a client secret).
	Open func(t *testing.T, url, token, secret string, deps connectors.Deps) connectors.Connector
	// Subject is a subject whose convergence makes at least one HTTP call.
	Subject connectors.Subject
	// Fake, when set, returns the adapter's fake downstream, accepting Token and
	// Secret, on which Subject converges without error; FakePath is appended to
	// its URL before Open. Run then also runs RunConvergeTwice. Every adapter
	// runs that check in at least one of its harnesses.
	Fake     func(t *testing.T) http.Handler
	FakePath string
}

// Token and Secret are the credentials the suite hands to Open.
const (
	Token  = "tok-SUPERSECRET-0123456789"
	Secret = "sec-CLIENTSECRET-9876543210"
)

// ErrorClassTable maps a downstream status to the class the bridge must see.
var ErrorClassTable = []struct {
	Status int
	Class  connectors.Class
}{
	{400, connectors.Permanent},
	{401, connectors.Permanent},
	{403, connectors.Permanent},
	{404, connectors.NotFound},
	{408, connectors.Retryable},
	{409, connectors.Retryable},
	{422, connectors.Permanent},
	{429, connectors.RateLimited},
	{500, connectors.Retryable},
	{502, connectors.Retryable},
	{503, connectors.Retryable},
	{504, connectors.Retryable},
}

// Run runs the whole shared suite.
func Run(t *testing.T, h Harness) {
	t.Run("ErrorClasses", func(t *testing.T) { RunErrorClasses(t, h) })
	t.Run("TransportErrors", func(t *testing.T) { RunTransportErrors(t, h) })
	t.Run("NoSecrets", func(t *testing.T) { RunNoSecrets(t, h) })
	if h.Fake != nil {
		t.Run("ConvergeTwice", func(t *testing.T) { RunConvergeTwice(t, h) })
	}
}

// RunConvergeTwice converges Subject on the adapter's fake downstream, then
// again with the record the first convergence returned: the second convergence
// must succeed, report no action, and send no write (any request other than
// GET or HEAD) — the contract's "converging twice in a row makes no write the
// second time". A dry run afterwards must plan nothing either.
func RunConvergeTwice(t *testing.T, h Harness) {
	if h.Fake == nil {
		t.Fatal("RunConvergeTwice needs Harness.Fake")
	}
	var (
		mu     sync.Mutex
		writes []string
	)
	fake := h.Fake(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mu.Lock()
			writes = append(writes, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	written := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(writes)
	}
	c := h.Open(t, srv.URL+h.FakePath, Token, Secret, connectors.Deps{Tenant: "t1", Logger: zerolog.Nop()})
	ctx := context.Background()
	rec, first, err := c.Converge(ctx, h.Subject, connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatalf("first convergence: %v", err)
	}
	if len(first) == 0 || len(written()) == 0 {
		t.Fatalf("first convergence made no write (actions %v, requests %v): Subject must need one", first, written())
	}
	before := len(written())
	rec, again, err := c.Converge(ctx, h.Subject, rec, connectors.Options{})
	if err != nil {
		t.Fatalf("second convergence: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second convergence reported actions %v, want none", again)
	}
	if w := written()[before:]; len(w) != 0 {
		t.Errorf("second convergence wrote %v, want no write", w)
	}
	before = len(written())
	if _, planned, err := c.Converge(ctx, h.Subject, rec, connectors.Options{DryRun: true}); err != nil || len(planned) != 0 {
		t.Errorf("dry run after convergence: actions %v, err %v; want none", planned, err)
	}
	if w := written()[before:]; len(w) != 0 {
		t.Errorf("dry run wrote %v", w)
	}
}

// RunErrorClasses points the adapter at a server answering every request with one
// status and checks the class of the convergence error.
func RunErrorClasses(t *testing.T, h Harness) {
	for _, tc := range ErrorClassTable {
		t.Run(fmt.Sprint(tc.Status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.Status == http.StatusTooManyRequests {
					w.Header().Set("Retry-After", "7")
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.Status)
				fmt.Fprintf(w, `{"detail":"status %d"}`, tc.Status)
			}))
			defer srv.Close()
			c := h.Open(t, srv.URL, Token, Secret, connectors.Deps{Tenant: "t1", Logger: zerolog.Nop()})
			_, _, err := c.Converge(context.Background(), h.Subject, connectors.Record{}, connectors.Options{})
			if err == nil {
				t.Fatalf("status %d: converge succeeded, want a %s error", tc.Status, tc.Class)
			}
			if got := connectors.ClassOf(err); got != tc.Class {
				t.Fatalf("status %d: class %s, want %s (err: %v)", tc.Status, got, tc.Class, err)
			}
			if tc.Status == http.StatusTooManyRequests {
				if ra := connectors.RetryAfterOf(err); ra != 7*time.Second {
					t.Fatalf("429: RetryAfter %s, want 7s", ra)
				}
			}
		})
	}
}

// RunTransportErrors checks that connection failures and timeouts are Retryable.
func RunTransportErrors(t *testing.T, h Harness) {
	t.Run("ConnectionRefused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c := h.Open(t, url, Token, Secret, connectors.Deps{Tenant: "t1", Logger: zerolog.Nop()})
		_, _, err := c.Converge(context.Background(), h.Subject, connectors.Record{}, connectors.Options{})
		if got := connectors.ClassOf(err); got != connectors.Retryable {
			t.Fatalf("class %s, want retryable (err: %v)", got, err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		c := h.Open(t, srv.URL, Token, Secret, connectors.Deps{Tenant: "t1", Logger: zerolog.Nop()})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, _, err := c.Converge(ctx, h.Subject, connectors.Record{}, connectors.Options{})
		if got := connectors.ClassOf(err); got != connectors.Retryable {
			t.Fatalf("class %s, want retryable (err: %v)", got, err)
		}
	})
}

// RunNoSecrets makes the downstream echo the request's headers and URL back in its
// error answers, and checks that neither the error nor any log line the adapter
// wrote contains a credential.
func RunNoSecrets(t *testing.T, h Harness) {
	for _, status := range []int{400, 401, 403, 500} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b strings.Builder
				fmt.Fprintf(&b, "url=%s ", r.URL.String())
				for k, v := range r.Header {
					fmt.Fprintf(&b, "%s=%s ", k, strings.Join(v, ","))
				}
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"detail":%q}`, b.String())
			}))
			defer srv.Close()
			var logs bytes.Buffer
			logger := zerolog.New(&logs).Level(zerolog.TraceLevel)
			c := h.Open(t, srv.URL, Token, Secret, connectors.Deps{Tenant: "t1", Logger: logger})
			_, _, err := c.Converge(context.Background(), h.Subject, connectors.Record{}, connectors.Options{})
			if err == nil {
				t.Fatalf("status %d: converge succeeded, want an error", status)
			}
			for _, s := range []string{Token, Secret} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error leaks a credential: %v", err)
				}
				if strings.Contains(logs.String(), s) {
					t.Fatalf("log leaks a credential: %s", logs.String())
				}
			}
		})
	}
}

// NoThrottle is a connectors.Throttle that lets every request leave at once and
// ignores what the answers ask: for adapter tests that retry a convergence
// after a 429 themselves (the bridge's throttle is tested on its own).
type NoThrottle struct{}

// Acquire implements connectors.Throttle.
func (NoThrottle) Acquire(context.Context) (func(connectors.Feedback), error) {
	return func(connectors.Feedback) {}, nil
}
