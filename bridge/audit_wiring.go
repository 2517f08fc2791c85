package bridge

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/bridge/admin"
	"github.com/scim-bridge/scim-bridge/bridge/audit"
	"github.com/scim-bridge/scim-bridge/store"
)

// AuditOptions configure the audit trail of every tenant.
type AuditOptions struct {
	// MaxLen caps each tenant's trail (approximately); 0 means store.DefaultAuditMaxLen.
	MaxLen int64
	// MaxAge drops entries older than this; 0 keeps them until MaxLen.
	MaxAge time.Duration
	// RedactPersonal leaves names and e-mail addresses out of the trail.
	RedactPersonal bool
	// Buffer is how many entries may wait to be written before new ones are
	// dropped (and counted); 0 means audit.DefaultBuffer.
	Buffer int
}

// newAudit builds the recorder: what New wires up can record into it (Record
// only buffers) before startAudit starts its writer.
func (b *Bridge) newAudit() {
	ao := b.opts.Audit
	b.audit = audit.New(audit.Options{
		Sink:           b.store,
		Retention:      store.AuditRetention{MaxLen: ao.MaxLen, MaxAge: ao.MaxAge},
		RedactPersonal: ao.RedactPersonal,
		Buffer:         ao.Buffer,
		Logger:         b.log,
		Now:            b.opts.Now,
		ClientAddr:     clientAddrFor(b.opts),
	})
}

// startAudit registers the audit counter and starts the recorder's writer;
// Close stops it after writing what is buffered.
func (b *Bridge) startAudit() error {
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "scim_bridge_audit_dropped_total",
		Help: "Audit entries dropped because the write buffer was full or Redis refused them.",
	}, func() float64 { return float64(b.audit.Dropped()) })
	if err := b.metrics.Registry().Register(dropped); err != nil {
		return fmt.Errorf("register audit metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.audit.Run(ctx)
	}()
	var once sync.Once
	b.stopAudit = func() { once.Do(func() { cancel(); wg.Wait() }) }
	return nil
}

// Audit returns the audit recorder (to record from outside, or to Flush in tests).
func (b *Bridge) Audit() *audit.Recorder { return b.audit }

// knownConnector reports whether tenantID has a connector of that name.
func (b *Bridge) knownConnector(tenantID, connector string) bool {
	t := b.tenants.Get(tenantID)
	return t != nil && t.Connector(connector) != nil
}

// sessionSecret derives the console's session signing secret from the admin
// tokens as configured (plaintext or digest): every replica with the same
// configuration accepts the others' sessions, and changing a token ends them.
// The console salts it with the store's console salt (store.ConsoleSalt): a
// digest is in the configuration, so the configuration alone must not sign.
func sessionSecret(opts Options) []byte {
	h := sha256.New()
	h.Write([]byte("scim-bridge console\x00" + opts.AdminToken + "\x00" + opts.AdminReadToken.Value))
	for _, t := range opts.AdminTokens {
		h.Write([]byte("\x00" + t.Value))
	}
	return h.Sum(nil)
}

// readOnlyName is the credential name that makes an admin token read-only.
const readOnlyName = admin.ReadOnlyName
