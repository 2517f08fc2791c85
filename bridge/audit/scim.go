package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/bridge/internal/httpstatus"
	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// RequestIDHeader carries the request id: taken from the client when it is
// short and plain, made up otherwise, and echoed in the answer.
const RequestIDHeader = "X-Request-Id"

// maxCapture bounds what the webhook middleware keeps of a body.
const maxCapture = 1 << 20

// SCIM wraps the SCIM endpoint so every write (POST, PUT, PATCH, DELETE on
// /Users and /Groups, and each operation of a /Bulk request) is recorded once
// answered: identity, resource, a summary of the change and the status. The
// SCIM server notes the tenant, credential, resource and PATCH operations
// into the request's context (NoteIdentity, NoteStatus, NoteResource,
// NotePatch, Operation), so the middleware neither wraps the writer nor copies
// or parses a body: it adds a context value and a buffered channel send to a
// write; the entry is written in the background.
func (r *Recorder) SCIM(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rid := r.requestID(req.Header.Get(RequestIDHeader))
		w.Header().Set(RequestIDHeader, rid)
		if r == nil || !isWrite(req.Method) || !strings.HasPrefix(req.URL.Path, "/scim/v2/") {
			next.ServeHTTP(w, req)
			return
		}
		start := r.opts.Now()
		ctx, sl := withSlot(req.Context())
		next.ServeHTTP(w, req.WithContext(ctx))
		if sl.tenant == "" {
			return // not authenticated: no tenant to record it for
		}
		code := sl.status
		if code == 0 {
			code = http.StatusOK
		}
		sl.mu.Lock()
		bulk := sl.bulk
		sl.mu.Unlock()
		if len(bulk) > 0 {
			for _, e := range bulk {
				e.Time, e.RequestID, e.Identity = start, rid, sl.identity
				r.Record(sl.tenant, e)
			}
			return
		}
		rtype, id := scimResource(req.Method, req.URL.Path)
		if rtype == "" && sl.rtype == "" {
			if !isBulk(req.URL.Path) {
				return
			}
			rtype = "Bulk" // refused as a whole: no operation ran
		}
		e := sl.entry(req.Method, rtype, id, code)
		e.Time, e.RequestID, e.Identity = start, rid, sl.identity
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

func isBulk(path string) bool {
	rest, _ := strings.CutPrefix(path, "/scim/v2/")
	return strings.EqualFold(strings.TrimSuffix(rest, "/"), "Bulk")
}

// scimResource returns the resource type ("User", "Group") and id a write to
// a SCIM path concerns; endpoint names match ignoring case, as the server
// matches them.
func scimResource(method, path string) (rtype, id string) {
	rest, ok := strings.CutPrefix(path, "/scim/v2/")
	if !ok {
		return "", ""
	}
	rest = strings.TrimSuffix(rest, "/")
	ep, id, _ := strings.Cut(rest, "/")
	if strings.Contains(id, "/") || (id == "" && method != http.MethodPost) || (id != "" && method == http.MethodPost) {
		return "", "" // .search, a sub-path, or a write the server refuses anyway
	}
	switch {
	case strings.EqualFold(ep, "Users"):
		return store.WorkUser, id
	case strings.EqualFold(ep, "Groups"):
		return store.WorkGroup, id
	}
	return "", ""
}

func changeOf(method string) string {
	switch method {
	case http.MethodPost:
		return "created"
	case http.MethodPut:
		return "replaced"
	case http.MethodDelete:
		return "deleted"
	}
	return "patched"
}

// patchSummary describes a PATCH without its values: the attributes
// replaced and the members added and removed.
func patchSummary(ops []filter.Operation) string {
	attrs, added, removed := 0, 0, 0
	for _, op := range ops {
		remove := strings.EqualFold(op.Op, "remove")
		switch {
		case isMembersPath(op.Path):
			n := 1
			if l, ok := op.Value.([]any); ok {
				n = max(len(l), 1)
			}
			if remove {
				removed += n
			} else {
				added += n
			}
		case op.Path == "":
			obj, _ := op.Value.(map[string]any)
			if obj == nil {
				attrs++
			}
			for k, v := range obj {
				if !strings.EqualFold(k, "members") {
					attrs++
					continue
				}
				l, _ := v.([]any)
				if remove {
					removed += len(l)
				} else {
					added += len(l)
				}
			}
		default:
			attrs++
		}
	}
	var b strings.Builder
	for _, p := range []struct {
		n    int
		what string
	}{{attrs, " attributes replaced"}, {added, " members added"}, {removed, " members removed"}} {
		if p.n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(p.n))
		b.WriteString(p.what)
	}
	if b.Len() == 0 {
		return "patched"
	}
	return b.String()
}

// isMembersPath reports whether a PATCH path targets a group's members
// ("members", "members[value eq …]", "members.value"), ignoring case.
func isMembersPath(path string) bool {
	return len(path) >= 7 && strings.EqualFold(path[:7], "members") && (len(path) == 7 || path[7] == '[' || path[7] == '.')
}

// requestID keeps a client's id when it is short and plain, else makes one:
// a random per-recorder prefix and a counter (unique, cheap; not a secret).
func (r *Recorder) requestID(in string) string {
	if n := len(in); n > 0 && n <= 64 && strings.Trim(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == "" {
		return in
	}
	if r == nil {
		var b [12]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	return r.ridPrefix + strconv.FormatUint(r.ridNext.Add(1), 36)
}

// captureWriter records the status and the start of the body (of a webhook
// answer, which is short).
type captureWriter struct {
	httpstatus.Recorder
	body bytes.Buffer
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if room := maxCapture - c.body.Len(); room > 0 {
		c.body.Write(p[:min(len(p), room)])
	}
	return c.Recorder.Write(p)
}
