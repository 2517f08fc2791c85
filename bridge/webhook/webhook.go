// Package webhook is the bridge's receiver of downstream events:
// POST /webhooks/{tenant}/{connector}, signed with the connector's webhook
// secret (header "X-Bridge-Signature: t=<unix>,v1=<hex HMAC-SHA256>", see
// signature.go), verified in constant time before the body is parsed, rejected
// outside a 5 minute window, de-duplicated by event id. An accepted event only
// marks subjects dirty; the fan-out worker does the rest.
//
// A new webhook type is handled by the connector it belongs to: its
// connectors.EventHandler maps the event type to the subjects to mark. This
// package needs no change for it.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/audit"
	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/internal/subject"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Store is what the receiver needs: the event-id de-duplication and the dirty
// marks, recorded in one atomic step.
type Store interface {
	Seen(ctx context.Context, tenant, namespace, id string) (bool, error)
	MarkDirtyOnce(ctx context.Context, tenant, namespace, id string, ttl time.Duration, keys ...store.WorkKey) (first bool, err error)
	ForceConverge(ctx context.Context, tenant string, k store.WorkKey, connectors ...string) error
}

// Metrics is told the answer to every delivery. tenant and connector are
// configured names, or "unknown": a path of the caller's choosing never becomes
// a label value.
type Metrics interface {
	Webhook(tenant, connector string, code int)
}

// Options configure a Receiver. Store, Tenants and Now are required.
type Options struct {
	Store   Store
	Tenants *tenant.Set
	Logger  zerolog.Logger
	Now     func() time.Time
	// OnMark, when set, is called after an accepted event marked subjects dirty.
	OnMark func()
	// Metrics, when set, is told about every delivery.
	Metrics Metrics
}

// Receiver serves POST /webhooks/{tenant}/{connector}.
type Receiver struct {
	opts     Options
	store    Store
	tenants  *tenant.Set
	log      zerolog.Logger
	now      func() time.Time
	rejected rejectLog
}

// New builds a Receiver.
func New(opts Options) *Receiver {
	return &Receiver{opts: opts, store: opts.Store, tenants: opts.Tenants, log: opts.Logger, now: opts.Now}
}

// Webhook receiver limits (DESIGN.md "Webhooks").
const (
	// MaxBody is the largest body accepted (413 above it).
	MaxBody          = 256 << 10
	webhookDedupTTL  = 72 * time.Hour
	webhookNamespace = "webhook"
)

// webhookEvent is the envelope every webhook carries.
type webhookEvent struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type webhookReply struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// reply writes the receiver's JSON answer and returns its status.
func reply(w http.ResponseWriter, status int, state, detail string) int {
	body, _ := json.Marshal(webhookReply{Status: state, Detail: detail})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}

// ServeHTTP is POST /webhooks/{tenant}/{connector} (the pattern's wildcards
// carry tenant and connector). The signature is verified in constant time before
// the body is parsed; stale timestamps and replays are rejected; an accepted
// event only marks subjects dirty (2xx once recorded).
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := rc.handle(w, r)
	if rc.opts.Metrics == nil {
		return
	}
	// Labels only from configuration: a path of the caller's choosing must not
	// grow the metric set.
	tenantLabel, connLabel := "unknown", "unknown"
	if t := rc.tenants.Get(r.PathValue("tenant")); t != nil {
		tenantLabel = t.ID
		if c := t.Connector(r.PathValue("connector")); c != nil {
			connLabel = c.Name()
		}
	}
	rc.opts.Metrics.Webhook(tenantLabel, connLabel, code)
}

// handle answers one delivery and returns the status it answered.
func (rc *Receiver) handle(w http.ResponseWriter, r *http.Request) int {
	t := rc.tenants.Get(r.PathValue("tenant"))
	var (
		conn   connectors.Connector
		secret string
	)
	if t != nil {
		conn = t.Connector(r.PathValue("connector"))
		secret = t.WebhookSecrets[r.PathValue("connector")]
	}
	if conn == nil || secret == "" {
		return reply(w, http.StatusNotFound, "rejected", "unknown tenant or connector, or webhooks not enabled for it")
	}
	if r.ContentLength > MaxBody {
		return reply(w, http.StatusRequestEntityTooLarge, "rejected", "body too large")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return reply(w, http.StatusBadRequest, "rejected", "could not read body")
	}
	if len(body) > MaxBody {
		return reply(w, http.StatusRequestEntityTooLarge, "rejected", "body too large")
	}
	if err := verify(r.Header.Get(SignatureHeader), body, secret, rc.now()); err != nil {
		// Anyone can send these: one line per connector and interval, with
		// the count of the others (scim_bridge_webhooks_total counts each).
		if unlogged, ok := rc.rejected.note(t.ID, conn.Name(), rc.now()); ok {
			rc.log.Warn().Str("tenant", t.ID).Str("connector", conn.Name()).Str("reason", clip.Error(err)).
				Int("rejected_unlogged", unlogged).Msg("webhook rejected")
		}
		return reply(w, http.StatusUnauthorized, "rejected", err.Error())
	}
	audit.NoteWebhookVerified(r.Context())
	var ev webhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		return reply(w, http.StatusBadRequest, "rejected", `body must be {"id": "...", "type": "...", "data": {...}}`)
	}
	ns := webhookNamespace + ":" + conn.Name()
	if seen, err := rc.store.Seen(r.Context(), t.ID, ns, ev.ID); err != nil {
		rc.log.Error().Str("error", clip.Error(err)).Str("tenant", t.ID).Str("connector", conn.Name()).Msg("webhook: look up event id")
		return reply(w, http.StatusServiceUnavailable, "error", "could not record the event; retry")
	} else if seen {
		return reply(w, http.StatusOK, "duplicate", "")
	}
	keys, err := rc.eventKeys(r, t, conn, ev)
	if err != nil {
		var be *badEvent
		if errors.As(err, &be) {
			return reply(w, http.StatusBadRequest, "rejected", "malformed event data")
		}
		return reply(w, http.StatusBadRequest, "rejected", "malformed event")
	}
	// An event says the downstream object changed: a subject recorded as
	// synced with an unchanged desired state (an invitation's never changes)
	// must be converged again, not skipped, even when a convergence of it is
	// running now (store.ForceConverge: a flag its final record cannot undo).
	for _, k := range keys {
		if err := rc.store.ForceConverge(r.Context(), t.ID, k, conn.Name()); err != nil {
			rc.log.Error().Str("error", clip.Error(err)).Str("tenant", t.ID).Str("connector", conn.Name()).Msg("webhook: force convergence")
			return reply(w, http.StatusServiceUnavailable, "error", "could not record the event; retry")
		}
	}
	// The event id and the marks it causes are recorded in one atomic step: a
	// crash cannot keep one without the other, and a replay marks nothing.
	first, err := rc.store.MarkDirtyOnce(r.Context(), t.ID, ns, ev.ID, webhookDedupTTL, keys...)
	if err != nil {
		rc.log.Error().Str("error", clip.Error(err)).Str("tenant", t.ID).Str("connector", conn.Name()).Msg("webhook: record event")
		return reply(w, http.StatusServiceUnavailable, "error", "could not record the event; retry")
	}
	if !first {
		return reply(w, http.StatusOK, "duplicate", "")
	}
	rc.log.Info().Str("tenant", t.ID).Str("connector", conn.Name()).Str("event", clip.String(ev.ID)).Str("type", clip.String(ev.Type)).
		Int("subjects", len(keys)).Msg("webhook accepted")
	if rc.opts.OnMark != nil {
		rc.opts.OnMark()
	}
	return reply(w, http.StatusAccepted, "accepted", "")
}

// eventKeys maps an event to the work keys to mark dirty.
func (rc *Receiver) eventKeys(r *http.Request, t *tenant.Tenant, conn connectors.Connector, ev webhookEvent) ([]store.WorkKey, error) {
	h, ok := conn.(connectors.EventHandler)
	if !ok {
		rc.log.Info().Str("tenant", t.ID).Str("connector", conn.Name()).Str("type", clip.String(ev.Type)).Msg("webhook: connector handles no events; acknowledged")
		return nil, nil
	}
	subjects, err := h.HandleEvent(r.Context(), ev.Type, ev.Data)
	if err != nil {
		return nil, &badEvent{err: err}
	}
	if subjects == nil {
		rc.log.Info().Str("tenant", t.ID).Str("connector", conn.Name()).Str("type", clip.String(ev.Type)).Msg("webhook: unknown event type; acknowledged")
	}
	keys := make([]store.WorkKey, 0, len(subjects))
	for _, s := range subjects {
		keys = append(keys, subject.WorkKey(t.ID, conn.Name(), s))
	}
	return keys, nil
}

// badEvent is an event whose data its connector could not read.
type badEvent struct{ err error }

func (e *badEvent) Error() string { return "malformed event data: " + e.err.Error() }
func (e *badEvent) Unwrap() error { return e.err }
