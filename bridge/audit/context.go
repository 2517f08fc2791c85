package audit

import (
	"context"
	"net/http"
	"sync"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// slot carries what the SCIM server learns while serving a request (its
// tenant, the name of the credential, the resource written and the PATCH
// operations applied) back to the middleware that records it, so the
// middleware never reads the response body.
type slot struct {
	tenant   string
	identity string

	rtype, id, name string
	ops             []filter.Operation // a PATCH's, when noted
	status          int                // the answer's status, noted by the SCIM server
	verified        bool               // a webhook delivery's signature was verified (NoteWebhookVerified)

	// Operations of a /Bulk request, recorded one entry each.
	mu   sync.Mutex
	bulk []store.AuditEntry
}

type slotKey struct{}

func withSlot(ctx context.Context) (context.Context, *slot) {
	s := &slot{}
	return context.WithValue(ctx, slotKey{}, s), s
}

func slotOf(ctx context.Context) *slot {
	s, _ := ctx.Value(slotKey{}).(*slot)
	return s
}

// NoteIdentity tells the audit middleware serving ctx which tenant and which of
// its credentials (by name, never the credential) made the request. Without
// the middleware it does nothing.
func NoteIdentity(ctx context.Context, tenant, credentialName string) {
	if s := slotOf(ctx); s != nil {
		s.tenant, s.identity = tenant, credentialName
	}
}

// NoteStatus tells the audit middleware serving ctx the status the write was
// answered with (0 means 200). Without the middleware it does nothing.
func NoteStatus(ctx context.Context, code int) {
	if s := slotOf(ctx); s != nil {
		s.status = code
	}
}

// NoteResource tells the audit middleware serving ctx which resource a write
// changed: its type (store.WorkUser, store.WorkGroup), id and name (userName
// or displayName; "" when the handler does not have it at hand). Without the
// middleware it does nothing.
func NoteResource(ctx context.Context, resourceType, id, name string) {
	if s := slotOf(ctx); s != nil {
		s.rtype, s.id, s.name = resourceType, id, name
	}
}

// NotePatch tells the audit middleware serving ctx the PATCH operations a
// request applied, summarised (never their values) in the entry's Change.
// ops is kept, not copied: the caller must not change it afterwards.
func NotePatch(ctx context.Context, ops []filter.Operation) {
	if s := slotOf(ctx); s != nil {
		s.ops = ops
	}
}

// BulkOperation is the audit record of one operation of a /Bulk request
// (RFC 7644 §3.7), recorded as its own SCIM write entry with its bulkId. Its
// zero value is ready to use.
type BulkOperation struct {
	s *slot
}

// Context returns the context to serve the operation with: what the SCIM
// handler notes (NoteResource, NotePatch) lands in o, not in the request's
// other operations. Without the audit middleware it returns ctx.
func (o *BulkOperation) Context(ctx context.Context) context.Context {
	if slotOf(ctx) == nil {
		return ctx
	}
	o.s = &slot{}
	return context.WithValue(ctx, slotKey{}, o.s)
}

// Done records the operation with its method, its path relative to the SCIM
// base ("/Users/…"), its bulkId and the status it ended with; ctx is the
// /Bulk request's. An operation that never ran (Context not called) is
// recorded from its path. Without the audit middleware it does nothing.
func (o *BulkOperation) Done(ctx context.Context, method, path, bulkID string, status int) {
	parent := slotOf(ctx)
	if parent == nil {
		return
	}
	s := o.s
	if s == nil {
		s = &slot{}
	}
	rtype, id := scimResource(method, "/scim/v2"+path)
	e := s.entry(method, rtype, id, status)
	e.BulkID = bulkID
	parent.mu.Lock()
	parent.bulk = append(parent.bulk, e)
	parent.mu.Unlock()
}

// entry is the SCIM write entry of what s noted, completed by what the
// request line said (method, resource type and id from the path) and its
// status. Identity, request id and time are the middleware's to fill.
func (s *slot) entry(method, rtype, id string, status int) store.AuditEntry {
	if s.rtype != "" {
		rtype = s.rtype
	}
	if s.id != "" {
		id = s.id
	}
	e := store.AuditEntry{Kind: store.AuditSCIM, Method: method, ResourceType: rtype, ResourceID: id, Status: status}
	if status < 300 {
		e.Name = s.name
		if method == http.MethodPatch && s.ops != nil {
			e.Change = patchSummary(s.ops)
		} else {
			e.Change = changeOf(method)
		}
	}
	if rtype != "" && id != "" {
		e.Subject = store.WorkKey{Kind: rtype, ID: id}.Subject()
	}
	return e
}
