package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/scim-bridge/scim-bridge/store"
)

// RequestIDHeader carries the request id: taken from the client when it is
// short and plain, made up otherwise, and echoed in the answer.
const RequestIDHeader = "X-Request-Id"

// maxCapture bounds what the middleware keeps of a body to summarise it.
const maxCapture = 1 << 20

// SCIM wraps the SCIM endpoint so every write (POST, PUT, PATCH, DELETE on
// /Users and /Groups) is recorded once answered: identity, resource, a summary
// of the change and the status. It adds one map lookup and, for writes, a copy
// of the bodies to the request; the entry is written in the background.
func (r *Recorder) SCIM(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rid := requestID(req.Header.Get(RequestIDHeader))
		w.Header().Set(RequestIDHeader, rid)
		rtype, id := scimResource(req.URL.Path)
		if r == nil || rtype == "" || !isWrite(req.Method) {
			next.ServeHTTP(w, req)
			return
		}
		var reqBody []byte
		if req.Method == http.MethodPatch && req.Body != nil {
			reqBody, _ = io.ReadAll(io.LimitReader(req.Body, maxCapture))
			req.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(reqBody), req.Body), req.Body}
		}
		start := r.opts.Now()
		ctx, sl := withSlot(req.Context())
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, req.WithContext(ctx))
		if sl.tenant == "" {
			return // not authenticated: no tenant to record it for
		}
		if cw.code == 0 {
			cw.code = http.StatusOK
		}
		e := store.AuditEntry{
			Time: start, Kind: store.AuditSCIM, RequestID: rid, Identity: sl.identity, Method: req.Method,
			ResourceType: rtype, ResourceID: id, Status: cw.code,
		}
		if cw.code < 300 {
			var doc struct {
				ID          string `json:"id"`
				UserName    string `json:"userName"`
				DisplayName string `json:"displayName"`
			}
			if json.Unmarshal(cw.body.Bytes(), &doc) == nil {
				if doc.ID != "" {
					e.ResourceID = doc.ID
				}
				e.Name = doc.UserName
				if rtype == store.WorkGroup {
					e.Name = doc.DisplayName
				}
			}
			e.Change = changeSummary(req.Method, reqBody)
		}
		if e.ResourceID != "" {
			e.Subject = rtype + "|" + e.ResourceID
		}
		r.Record(sl.tenant, e)
	})
}

func isWrite(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// scimResource returns the resource type ("User", "Group") and id of a SCIM path.
func scimResource(path string) (rtype, id string) {
	rest, ok := strings.CutPrefix(path, "/scim/v2/")
	if !ok {
		return "", ""
	}
	rest = strings.TrimSuffix(rest, "/")
	ep, id, _ := strings.Cut(rest, "/")
	if id == ".search" || strings.Contains(id, "/") {
		return "", ""
	}
	switch ep {
	case "Users":
		return store.WorkUser, id
	case "Groups":
		return store.WorkGroup, id
	}
	return "", ""
}

// changeSummary describes a write without its values: "created", "replaced",
// "deleted", or for a PATCH the attributes replaced and the members added and
// removed.
func changeSummary(method string, patch []byte) string {
	switch method {
	case http.MethodPost:
		return "created"
	case http.MethodPut:
		return "replaced"
	case http.MethodDelete:
		return "deleted"
	}
	var body struct {
		Operations []struct {
			Op    string          `json:"op"`
			Path  string          `json:"path"`
			Value json.RawMessage `json:"value"`
		} `json:"Operations"`
	}
	if json.Unmarshal(patch, &body) != nil {
		return "patched"
	}
	attrs, added, removed := 0, 0, 0
	for _, op := range body.Operations {
		kind := strings.ToLower(op.Op)
		path := strings.ToLower(op.Path)
		var list []json.RawMessage
		var obj map[string]json.RawMessage
		if strings.HasPrefix(path, "members") {
			_ = json.Unmarshal(op.Value, &list)
		} else if path == "" {
			_ = json.Unmarshal(op.Value, &obj)
		}
		switch {
		case strings.HasPrefix(path, "members") && kind == "add":
			added += max(len(list), 1)
		case strings.HasPrefix(path, "members") && kind == "remove":
			removed += max(len(list), 1)
		case path == "" && obj != nil:
			for k, v := range obj {
				if strings.EqualFold(k, "members") {
					var ms []json.RawMessage
					_ = json.Unmarshal(v, &ms)
					if kind == "remove" {
						removed += len(ms)
					} else {
						added += len(ms)
					}
					continue
				}
				attrs++
			}
		default:
			attrs++
		}
	}
	var parts []string
	if attrs > 0 {
		parts = append(parts, fmt.Sprintf("%d attributes replaced", attrs))
	}
	if added > 0 {
		parts = append(parts, fmt.Sprintf("%d members added", added))
	}
	if removed > 0 {
		parts = append(parts, fmt.Sprintf("%d members removed", removed))
	}
	if len(parts) == 0 {
		return "patched"
	}
	return strings.Join(parts, ", ")
}

// requestID keeps a client's id when it is short and plain, else makes one.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 64 && strings.Trim(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == "" {
		return in
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// captureWriter records the status and the start of the body.
type captureWriter struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	if room := maxCapture - c.body.Len(); room > 0 {
		c.body.Write(p[:min(len(p), room)])
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
