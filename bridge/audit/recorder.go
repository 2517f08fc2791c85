// Package audit records the bridge's audit trail: SCIM writes, downstream
// actions, webhook receipts and reconcile runs, per tenant, in the store's
// audit streams. Record never blocks a request: entries go through a bounded
// buffer that a background loop writes in pipelined batches; when the buffer is
// full the entry is dropped and counted, never waited for.
//
// Nothing recorded holds a secret or a password: callers pass names of
// credentials, never their values, and the recorder strips e-mail addresses
// and names too when RedactPersonal is set.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/netip"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/store"
)

// Sink is where entries are written (the store). It must not keep the
// batches' entries after it returns: the recorder reuses them.
type Sink interface {
	AppendAuditBatches(ctx context.Context, ret store.AuditRetention, batches ...store.AuditBatch) error
}

// Defaults of Options.
const (
	DefaultBuffer = 4096
	// DefaultLinger is how long the writer collects entries after the first
	// of a batch before it writes them: at a few thousand writes a second,
	// tens of entries share one round trip instead of one entry each.
	DefaultLinger = 5 * time.Millisecond
	maxBatch      = 512
)

// Options configure a Recorder. Sink is required.
type Options struct {
	Sink      Sink
	Retention store.AuditRetention
	// RedactPersonal drops names and e-mail addresses from every entry.
	RedactPersonal bool
	// Buffer is how many entries may wait to be written; 0 means DefaultBuffer.
	Buffer int
	// Linger is how long a batch collects entries before it is written; 0
	// means DefaultLinger, a negative value writes at once.
	Linger time.Duration
	Logger zerolog.Logger
	Now    func() time.Time
	// OnDrop, when set, is called for every entry dropped (buffer full or write failed).
	OnDrop func(tenant string)
	// ClientAddr attributes a webhook delivery to its client, to bound the
	// rejected ones recorded per address (the bridge's trusted-proxy
	// attribution, as the auth limiter's); nil means the connection's peer,
	// so behind a proxy every client shares the proxy's one record a minute.
	ClientAddr func(*http.Request) netip.Addr
}

type pending struct {
	tenant string
	entry  store.AuditEntry
}

// Recorder buffers entries and writes them in the background (Run).
type Recorder struct {
	opts    Options
	ch      chan pending
	dropped atomic.Uint64
	// inflight counts entries accepted but not yet written, for Flush.
	inflight atomic.Int64
	// batches and entries are write's buffers, reused (Run is the only writer).
	batches []store.AuditBatch
	entries []store.AuditEntry
	// Request ids made up for clients that send none.
	ridPrefix string
	ridNext   atomic.Uint64
	// rejects bounds the unauthenticated webhook deliveries recorded.
	rejects rejectGate
}

// New builds a recorder; nothing is written until Run runs.
func New(opts Options) *Recorder {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Linger == 0 {
		opts.Linger = DefaultLinger
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Recorder{opts: opts, ch: make(chan pending, opts.Buffer), ridPrefix: hex.EncodeToString(b[:]) + "-"}
}

// Record queues e for tenant's trail without waiting. A nil Recorder records nothing.
func (r *Recorder) Record(tenant string, e store.AuditEntry) {
	if r == nil || tenant == "" {
		return
	}
	if e.Time.IsZero() {
		e.Time = r.opts.Now()
	}
	if r.opts.RedactPersonal {
		redact(&e)
	}
	r.inflight.Add(1)
	select {
	case r.ch <- pending{tenant, e}:
	default:
		r.inflight.Add(-1)
		r.drop(tenant, 1)
	}
}

// Dropped is how many entries were lost so far (buffer full or write failed).
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

func (r *Recorder) drop(tenant string, n int) {
	r.dropped.Add(uint64(n))
	if r.opts.OnDrop != nil {
		for range n {
			r.opts.OnDrop(tenant)
		}
	}
}

// Flush waits until every entry recorded so far is written (or dropped), or
// ctx ends. Run must be running.
func (r *Recorder) Flush(ctx context.Context) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for r.inflight.Load() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// Run writes buffered entries until ctx ends, then writes what is left. A
// batch is what arrives within Linger of its first entry (at most maxBatch).
func (r *Recorder) Run(ctx context.Context) {
	batch := make([]pending, 0, maxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case p := <-r.ch:
			batch = append(batch[:0], p)
			if r.opts.Linger > 0 {
				linger.Reset(r.opts.Linger)
			collect:
				for len(batch) < maxBatch {
					select {
					case p := <-r.ch:
						batch = append(batch, p)
					case <-linger.C:
						break collect
					case <-ctx.Done():
						break collect
					}
				}
				linger.Stop()
			}
			r.write(context.WithoutCancel(ctx), r.drain(batch))
		case <-ctx.Done():
			for {
				batch = r.drain(batch[:0])
				if len(batch) == 0 {
					return
				}
				r.write(context.WithoutCancel(ctx), batch)
			}
		}
	}
}

// drain adds to batch what is buffered, up to maxBatch entries, without waiting.
func (r *Recorder) drain(batch []pending) []pending {
	for len(batch) < maxBatch {
		select {
		case p := <-r.ch:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// write appends a batch in one pipelined round trip, the entries of each
// tenant together, copied once into a backing array reused from batch to
// batch (Run is the only writer).
func (r *Recorder) write(ctx context.Context, batch []pending) {
	r.batches = r.batches[:0]
	var counts []int
	at := make(map[string]int, 1)
	for _, p := range batch {
		i, ok := at[p.tenant]
		if !ok {
			i = len(r.batches)
			at[p.tenant] = i
			r.batches = append(r.batches, store.AuditBatch{Tenant: p.tenant})
			counts = append(counts, 0)
		}
		counts[i]++
	}
	if cap(r.entries) < len(batch) {
		r.entries = make([]store.AuditEntry, max(len(batch), maxBatch))
	}
	off := 0
	for i, n := range counts {
		r.batches[i].Entries = r.entries[off : off : off+n]
		off += n
	}
	for _, p := range batch {
		b := &r.batches[at[p.tenant]]
		b.Entries = append(b.Entries, p.entry)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.opts.Sink.AppendAuditBatches(wctx, r.opts.Retention, r.batches...); err != nil {
		for _, b := range r.batches {
			r.drop(b.Tenant, len(b.Entries))
		}
		r.opts.Logger.Warn().Err(err).Int("entries", len(batch)).Msg("audit: entries dropped")
	}
	clear(r.entries[:len(batch)]) // let the entries' strings go
	r.inflight.Add(-int64(len(batch)))
}

var emailRE = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+\.[A-Za-z]{2,}`)

// redact removes names and e-mail addresses from e.
func redact(e *store.AuditEntry) {
	e.Name = ""
	for _, s := range []*string{&e.Action, &e.Error, &e.Change, &e.Reason, &e.Subject} {
		*s = emailRE.ReplaceAllString(*s, "[email]")
	}
}
