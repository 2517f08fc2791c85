package audit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/scim-bridge/scim-bridge/bridge/internal/httpstatus"
	"github.com/scim-bridge/scim-bridge/store"
)

// Webhooks wraps the webhook receiver (mounted at
// /webhooks/{tenant}/{connector}) so every receipt of a known tenant and
// connector is recorded: accepted, duplicate or rejected with the reason. The
// event id and type are recorded only once the receiver verified the
// signature; the body itself never is.
func (r *Recorder) Webhooks(known func(tenant, connector string) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		tenant, conn := req.PathValue("tenant"), req.PathValue("connector")
		if r == nil || !known(tenant, conn) {
			next.ServeHTTP(w, req)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(req.Body, maxCapture))
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), req.Body), req.Body}
		cw := &captureWriter{Recorder: httpstatus.Recorder{ResponseWriter: w}}
		next.ServeHTTP(cw, req)
		var answer struct {
			Status string `json:"status"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(cw.body.Bytes(), &answer)
		e := store.AuditEntry{Kind: store.AuditWebhook, Connector: conn, Outcome: answer.Status, Status: cw.Code, Reason: answer.Detail}
		if answer.Status == "accepted" || answer.Status == "duplicate" {
			var ev struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}
			if json.Unmarshal(body, &ev) == nil {
				e.Action = "event " + clip(ev.ID) + " (" + clip(ev.Type) + ")"
			}
		}
		if e.Outcome == "" {
			e.Outcome = "rejected"
		}
		r.Record(tenant, e)
	})
}

// clip bounds a sender-chosen string recorded in the trail.
func clip(s string) string {
	if len(s) > 128 {
		return strings.ToValidUTF8(s[:128], "") + "…"
	}
	return s
}
