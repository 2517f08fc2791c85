package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// TestRetryLogsOnlyChanges: a subject failing again with the same error logs at
// debug level; a new error, and the subject going dead, log a warning.
func TestRetryLogsOnlyChanges(t *testing.T) {
	t.Parallel()
	errs := []error{
		&connectors.Error{Class: connectors.Retryable, Op: "POST /x", Status: 503, Msg: "down"},
		&connectors.Error{Class: connectors.Retryable, Op: "POST /x", Status: 503, Msg: "down"},
		&connectors.Error{Class: connectors.Retryable, Op: "POST /x", Status: 503, Msg: "down"},
		&connectors.Error{Class: connectors.Retryable, Op: "POST /x", Status: 502, Msg: "bad gateway"},
		&connectors.Error{Class: connectors.Permanent, Op: "POST /x", Status: 400, Msg: "refused"},
	}
	var (
		mu    sync.Mutex
		calls int
	)
	flaky := &fakeconn.Connector{
		ConnName: "flaky",
		Kinds:    []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(_ context.Context, _ connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls > len(errs) {
				return prev, nil, fmt.Errorf("called %d times, want %d", calls, len(errs))
			}
			return prev, nil, errs[calls-1]
		},
	}
	logs := &syncBuffer{}
	ts := newTestServer(t, "", func(o *Options) {
		o.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
		o.Tenants[0].Connectors = []connectors.Connector{flaky}
		o.fanout = fanout.Options{BackoffBase: time.Millisecond}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ts.b.Run(ctx) }()
	defer func() { cancel(); <-done }()

	st, _, body := ts.do(testToken, "POST", "/Users", userDoc("flaky@example.com"))
	if st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}
	subject := store.WorkKey{Tenant: "acme", Kind: store.WorkUser, ID: body["id"].(string)}.Subject()
	eventually(t, 10*time.Second, func() error {
		s, err := ts.b.Store().GetSync(context.Background(), "acme", "flaky", subject)
		if err != nil || s.Status != store.SyncDead {
			return fmt.Errorf("sync state %+v, err %v; want dead", s, err)
		}
		return nil
	})

	var levels []string
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct{ Level, Message, Connector string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "converge" && line.Connector == "flaky" {
			levels = append(levels, line.Level)
		}
	}
	want := []string{"warn", "debug", "debug", "warn", "warn"}
	if strings.Join(levels, " ") != strings.Join(want, " ") {
		t.Errorf("converge log levels %v, want %v (new error, same twice, changed, dead)", levels, want)
	}
}
