package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Webhook receiver limits (DESIGN.md "Webhooks").
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>".
	SignatureHeader   = "X-Bridge-Signature"
	webhookTolerance  = 5 * time.Minute
	webhookMaxBody    = 256 << 10
	webhookDedupTTL   = 72 * time.Hour
	webhookNamespace  = "webhook"
	maxSignatureParts = 16
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

func writeWebhook(w http.ResponseWriter, status int, state, detail string) {
	body, _ := json.Marshal(webhookReply{Status: state, Detail: detail})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serveWebhook is POST /webhooks/{tenant}/{connector}. The signature is verified
// in constant time before the body is parsed; stale timestamps and replays are
// rejected; an accepted event only marks subjects dirty (2xx once recorded).
func (b *Bridge) serveWebhook(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	b.handleWebhook(rec, r)
	// Labels only from configuration: a path of the caller's choosing must not
	// grow the metric set.
	tenantLabel, connLabel := "unknown", "unknown"
	if t := b.tenants[r.PathValue("tenant")]; t != nil {
		tenantLabel = t.id
		if c := t.byName[r.PathValue("connector")]; c != nil {
			connLabel = c.Name()
		}
	}
	b.metrics.inc("scim_bridge_webhooks_total", "tenant", tenantLabel, "connector", connLabel, "code", strconv.Itoa(rec.code))
}

func (b *Bridge) handleWebhook(w http.ResponseWriter, r *http.Request) {
	t := b.tenants[r.PathValue("tenant")]
	var (
		conn   connectors.Connector
		secret string
	)
	if t != nil {
		conn = t.byName[r.PathValue("connector")]
		secret = t.webhookSecrets[r.PathValue("connector")]
	}
	if conn == nil || secret == "" {
		writeWebhook(w, http.StatusNotFound, "rejected", "unknown tenant or connector, or webhooks not enabled for it")
		return
	}
	if r.ContentLength > webhookMaxBody {
		writeWebhook(w, http.StatusRequestEntityTooLarge, "rejected", "body too large")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, webhookMaxBody+1))
	if err != nil {
		writeWebhook(w, http.StatusBadRequest, "rejected", "could not read body")
		return
	}
	if len(body) > webhookMaxBody {
		writeWebhook(w, http.StatusRequestEntityTooLarge, "rejected", "body too large")
		return
	}
	if err := verifySignature(r.Header.Get(SignatureHeader), body, secret, b.now()); err != nil {
		b.log.Warn().Str("tenant", t.id).Str("connector", conn.Name()).Str("reason", err.Error()).Msg("webhook rejected")
		writeWebhook(w, http.StatusUnauthorized, "rejected", err.Error())
		return
	}
	var ev webhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		writeWebhook(w, http.StatusBadRequest, "rejected", `body must be {"id": "...", "type": "...", "data": {...}}`)
		return
	}
	ns := webhookNamespace + ":" + conn.Name()
	if seen, err := b.store.Seen(r.Context(), t.id, ns, ev.ID); err != nil {
		b.log.Error().Err(err).Str("tenant", t.id).Str("connector", conn.Name()).Msg("webhook: look up event id")
		writeWebhook(w, http.StatusServiceUnavailable, "error", "could not record the event; retry")
		return
	} else if seen {
		writeWebhook(w, http.StatusOK, "duplicate", "")
		return
	}
	keys, err := b.eventKeys(r, t, conn, ev)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) {
			writeWebhook(w, he.Status, "rejected", he.Detail)
			return
		}
		writeWebhook(w, http.StatusBadRequest, "rejected", "malformed event")
		return
	}
	// The event id and the marks it causes are recorded in one atomic step: a
	// crash cannot keep one without the other, and a replay marks nothing.
	first, err := b.store.MarkDirtyOnce(r.Context(), t.id, ns, ev.ID, webhookDedupTTL, keys...)
	if err != nil {
		b.log.Error().Err(err).Str("tenant", t.id).Str("connector", conn.Name()).Msg("webhook: record event")
		writeWebhook(w, http.StatusServiceUnavailable, "error", "could not record the event; retry")
		return
	}
	if !first {
		writeWebhook(w, http.StatusOK, "duplicate", "")
		return
	}
	b.log.Info().Str("tenant", t.id).Str("connector", conn.Name()).Str("event", ev.ID).Str("type", ev.Type).
		Int("subjects", len(keys)).Msg("webhook accepted")
	b.written()
	writeWebhook(w, http.StatusAccepted, "accepted", "")
}

// eventKeys maps an event to the work keys to mark dirty.
func (b *Bridge) eventKeys(r *http.Request, t *tenant, conn connectors.Connector, ev webhookEvent) ([]store.WorkKey, error) {
	h, ok := conn.(connectors.EventHandler)
	if !ok {
		b.log.Info().Str("tenant", t.id).Str("connector", conn.Name()).Str("type", ev.Type).Msg("webhook: connector handles no events; acknowledged")
		return nil, nil
	}
	subjects, err := h.HandleEvent(r.Context(), ev.Type, ev.Data)
	if err != nil {
		return nil, &HTTPError{Status: http.StatusBadRequest, Detail: "malformed event data", Err: err}
	}
	if subjects == nil {
		b.log.Info().Str("tenant", t.id).Str("connector", conn.Name()).Str("type", ev.Type).Msg("webhook: unknown event type; acknowledged")
	}
	keys := make([]store.WorkKey, 0, len(subjects))
	for _, s := range subjects {
		keys = append(keys, workKeyOf(t.id, conn.Name(), s))
	}
	return keys, nil
}

// workKeyOf maps a connector subject to the queue key that converges it.
func workKeyOf(tenantID, connector string, s connectors.Subject) store.WorkKey {
	switch s.Kind {
	case connectors.SubjectUser:
		return store.WorkKey{Tenant: tenantID, Kind: store.WorkUser, ID: s.ID}
	case connectors.SubjectTenant:
		return store.WorkKey{Tenant: tenantID, Kind: store.WorkTenant, ID: tenantID}
	default:
		return store.WorkKey{Tenant: tenantID, Kind: store.WorkObject, ID: connector + "/" + s.ID}
	}
}

// verifySignature checks header "t=<unix>,v1=<hex>[,v1=<hex>...]" against body
// with secret: HMAC-SHA256 over "<t>.<body>", compared in constant time, and the
// timestamp within webhookTolerance of now. Error texts are safe to return.
func verifySignature(header string, body []byte, secret string, now time.Time) error {
	if header == "" {
		return errors.New("missing " + SignatureHeader + " header")
	}
	var ts string
	var sigs [][]byte
	for i, part := range strings.Split(header, ",") {
		if i >= maxSignatureParts {
			break
		}
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed signature header")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	valid := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			valid = true
		}
	}
	if !valid {
		return errors.New("signature does not match")
	}
	age := now.Sub(time.Unix(sec, 0))
	if age > webhookTolerance || age < -webhookTolerance {
		return errors.New("timestamp outside the 5 minute tolerance")
	}
	return nil
}

// Sign returns the X-Bridge-Signature value for body at time t (for senders and tests).
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
