package fanout

// Settling and downstream holds in the worker. A changed user is converged only
// after a quiet period (store.Settle): a burst of changes costs one downstream
// round. A connector held by its downstream (a 429 or 503 with Retry-After, or
// an exhausted rate-limit header, recorded by the connector's throttle where
// every replica sees it) is not called: the work due for it waits until the
// hold ends without spending an attempt.

import (
	"context"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// settles reports whether keys of this kind settle before they converge: the
// users, whose changes come in bursts from the IdPs (a group write marks its
// members). Webhook objects and the tenant subject converge at once.
func settles(t *tenant.Tenant, k store.WorkKey) bool {
	return k.Kind == store.WorkUser && t.Settle > 0
}

// settleUntil returns when a claimed key may converge: zero for now, else the
// time to release it to without converging. Settling is an optimisation: when
// the store cannot say, the key converges now.
func (w *Worker) settleUntil(ctx context.Context, t *tenant.Tenant, c store.Claim) time.Time {
	if !settles(t, c.Key) {
		return time.Time{}
	}
	at, err := w.store.Settle(ctx, c, t.Settle, t.SettleMax)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn().Err(err).Str("tenant", t.ID).Str("subject", c.Key.Subject()).Msg("sync: settle")
		}
		return time.Time{}
	}
	return at
}

// holds returns the connectors among names held by their downstream at now,
// with the end of each hold. When the store cannot say, none is: the throttle
// of each connector checks again before every request.
func (w *Worker) holds(ctx context.Context, tenantID string, names []string) map[string]time.Time {
	states, err := w.store.ThrottleStates(ctx, tenantID, names)
	if err != nil {
		return nil
	}
	now := w.now()
	var out map[string]time.Time
	for name, st := range states {
		if st.Held(now) {
			if out == nil {
				out = map[string]time.Time{}
			}
			out[name] = st.HeldUntil
		}
	}
	return out
}

// heldBack reports whether err is a throttle's refusal: the connector was held
// and the request never left, so the attempt is not spent.
func heldBack(err error) bool {
	return connectors.ClassOf(err) == connectors.RateLimited && connectors.StatusOf(err) == 0
}
