package fanout

// The claim on a subject is the lock: a downstream object whose convergence
// may make the same write as its owner's (a BIMData invitation and the user it
// is for) converges only while this worker holds the owner's lease, so the two
// never run at once on any replica.

import (
	"context"
	"fmt"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/subject"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
)

// ownerBusyRetry is how soon an object whose owner is being converged
// elsewhere is tried again.
const ownerBusyRetry = 200 * time.Millisecond

// lockOwner takes the lease of the owner of the subjects of targets, when a
// connector names one (connectors.Owned), and keeps it for as long as the
// convergence runs, as the object's own claim is kept (onLost is called if an
// extension finds it gone). It returns the function releasing it, or busy
// when another claim holds the owner (the caller retries soon).
func (w *Worker) lockOwner(ctx context.Context, t *tenant.Tenant, targets []target, onLost func()) (release func(), busy bool, err error) {
	release = func() {}
	for _, tg := range targets {
		o, ok := tg.conn.(connectors.Owned)
		if !ok || tg.subject.Kind != connectors.SubjectObject {
			continue
		}
		owner, err := o.Owner(ctx, tg.subject)
		if err != nil {
			return release, false, fmt.Errorf("owner of %s: %w", tg.subject.ID, err)
		}
		if owner == nil {
			continue
		}
		c, ok, err := w.store.Lease(ctx, subject.WorkKey(t.ID, tg.conn.Name(), *owner), w.opts.Owner, w.opts.LeaseTTL)
		if err != nil {
			return release, false, fmt.Errorf("lease the owner of %s: %w", tg.subject.ID, err)
		}
		if !ok {
			return release, true, nil
		}
		stop := w.keepLeaseOr(ctx, t, c, onLost)
		return func() {
			stop()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := w.store.Ack(rctx, c); err != nil {
				w.log.Warn().Err(err).Str("tenant", t.ID).Str("subject", c.Key.Subject()).Msg("sync: release the owner's lease")
			}
		}, false, nil
	}
	return release, false, nil
}
