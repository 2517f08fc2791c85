package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// A forced convergence of a parked subject starts a new series of attempts:
// a single transient failure does not park it again.
func TestForcedDeadLetterGetsFullAttempts(t *testing.T) {
	st := openTestStore(t)
	createUser(t, st, "alice")
	var calls atomic.Int32
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			if calls.Add(1) == 1 {
				return prev, nil, &connectors.Error{Class: connectors.Permanent, Op: "x", Msg: "perm"}
			}
			return prev, nil, &connectors.Error{Class: connectors.Retryable, Op: "x", Msg: "blip"}
		}}
	ctx := context.Background()
	cancel, done := forcedWorker(t, st, []connectors.Connector{conn}, "w")
	waitFor(t, 5*time.Second, func() error {
		s, err := st.GetSync(ctx, "acme", "down", aliceKey.Subject())
		if err != nil || s.Status != store.SyncDead {
			return errors.New("not dead")
		}
		return nil
	})
	cancel()
	<-done
	s, _ := st.GetSync(ctx, "acme", "down", aliceKey.Subject())
	s.Attempts = maxAttempts // as after maxAttempts failures
	if err := st.PutSync(ctx, "acme", s); err != nil {
		t.Fatal(err)
	}
	if err := st.ForceConverge(ctx, "acme", aliceKey, "down"); err != nil {
		t.Fatal(err)
	}
	forcedWorker(t, st, []connectors.Connector{conn}, "w2")
	waitFor(t, 5*time.Second, func() error {
		if calls.Load() < 2 {
			return errors.New("not forced")
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	s, _ = st.GetSync(ctx, "acme", "down", aliceKey.Subject())
	if s.Status == store.SyncDead {
		t.Fatalf("forced convergence of a dead subject parked again after one transient failure: %s (calls %d)", s.LastError, calls.Load())
	}
}
