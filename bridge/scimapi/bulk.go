package scimapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/scim-bridge/scim-bridge/bridge/audit"
)

// Limits of a /Bulk request when Options leave them 0 (advertised in
// ServiceProviderConfig bulk.maxOperations and bulk.maxPayloadSize).
const (
	DefaultBulkMaxOperations   = 1000
	DefaultBulkMaxPayloadBytes = 4 << 20
)

// Bulk message URNs (RFC 7644 §3.7).
const (
	BulkRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	BulkResponseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// bulkIDPrefix marks a reference to the resource another operation creates.
const bulkIDPrefix = "bulkId:"

type bulkRequest struct {
	Schemas      []string        `json:"schemas"`
	FailOnErrors *int            `json:"failOnErrors"`
	Operations   []bulkOperation `json:"Operations"`
}

type bulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

// bulkResult is one element of a BulkResponse's Operations (RFC 7644 §3.7.3).
type bulkResult struct {
	Method   string `json:"method"`
	BulkID   string `json:"bulkId,omitempty"`
	Version  string `json:"version,omitempty"`
	Location string `json:"location,omitempty"`
	Status   string `json:"status"`
	Response any    `json:"response,omitempty"`
}

// bulkOp is an operation being processed.
type bulkOp struct {
	bulkOperation
	index  int
	refs   []string // bulkIds its path and data refer to
	done   bool
	result *bulkResult
	// deferred are members (bulkIds) left out of a group created inside a
	// circular reference, added once they exist (RFC 7644 §3.7.1).
	deferred []string
	// audit records the operation as its own entry of the audit trail.
	audit audit.BulkOperation
}

// bulkJob is one /Bulk request in progress.
type bulkJob struct {
	srv     *Server
	r       *http.Request
	tenant  string
	ops     []*bulkOp
	ids     map[string]string // bulkId → id of the created resource
	failed  map[string]bool   // bulkId → its operation failed
	defined map[string]bool   // bulkIds some operation of the request creates
	errors  int
	maxErr  int // failOnErrors; 0: never stop
	stopped bool
	mu      sync.Mutex // guards ids, failed, errors and stopped while creates run concurrently
}

// Concurrent creates: a run of consecutive POST operations that refer to no
// bulkId and collide on no unique attribute runs on bulkWorkers goroutines,
// bulkBatch at a time. Creates are independent of each other apart from
// uniqueness, so the outcome is that of running them in order.
const (
	bulkWorkers = 8
	bulkBatch   = 64
)

// bulk serves POST /Bulk (RFC 7644 §3.7). Each operation runs through the same
// handler as its single request, so it is exactly as atomic and validated;
// operations run in request order except that one referring to a bulkId waits
// for the operation creating it. Results come back in request order.
func (srv *Server) bulk(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := srv.readLimited(r, srv.opts.BulkMaxPayloadBytes, srv.errBulkTooLarge)
	if err != nil {
		return err
	}
	var req bulkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return errBadRequest("invalidSyntax", "malformed BulkRequest: %s", jsonErrorDetail(err))
	}
	hasSchema := false
	for _, s := range req.Schemas {
		hasSchema = hasSchema || s == BulkRequestSchema
	}
	if !hasSchema {
		return errBadRequest("invalidValue", `"schemas" must be [%q]`, BulkRequestSchema)
	}
	if req.Operations == nil {
		return errBadRequest("invalidSyntax", `a BulkRequest needs "Operations" (RFC 7644 §3.7)`)
	}
	if len(req.Operations) > srv.opts.BulkMaxOperations {
		return srv.errBulkTooLarge()
	}
	job := &bulkJob{srv: srv, r: r, tenant: tenant, ids: map[string]string{}, failed: map[string]bool{}, defined: map[string]bool{}}
	if req.FailOnErrors != nil {
		if *req.FailOnErrors < 1 {
			return errBadRequest("invalidValue", "failOnErrors must be a positive integer")
		}
		job.maxErr = *req.FailOnErrors
	}
	seen := map[string]bool{}
	for i, o := range req.Operations {
		op := &bulkOp{bulkOperation: o, index: i}
		op.Method = strings.ToUpper(strings.TrimSpace(o.Method))
		if op.BulkID != "" {
			if seen[op.BulkID] {
				return errBadRequest("invalidValue", "bulkId %q is used by more than one operation", op.BulkID)
			}
			seen[op.BulkID] = true
			job.defined[op.BulkID] = true
		}
		op.refs = bulkRefs(op.Path, op.Data)
		job.ops = append(job.ops, op)
	}
	job.run(r.Context())
	for _, op := range job.ops {
		if op.result != nil {
			status, _ := strconv.Atoi(op.result.Status)
			op.audit.Done(r.Context(), op.Method, op.Path, op.BulkID, status)
		}
	}

	out := struct {
		Schemas    []string      `json:"schemas"`
		Operations []*bulkResult `json:"Operations"`
	}{Schemas: []string{BulkResponseSchema}, Operations: []*bulkResult{}}
	for _, op := range job.ops {
		if op.result != nil {
			out.Operations = append(out.Operations, op.result)
		}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode bulk response: %w", err)
	}
	w.Header().Set("Content-Type", contentTypeSCIM)
	_, _ = w.Write(data)
	return nil
}

// errBulkTooLarge is the 413 of RFC 7644 §3.7.4, naming both limits.
func (srv *Server) errBulkTooLarge() *HTTPError {
	return &HTTPError{Status: http.StatusRequestEntityTooLarge, ScimType: "tooLarge", Detail: fmt.Sprintf(
		"the bulk request exceeds the limits of this service provider: maxOperations %d, maxPayloadSize %d bytes",
		srv.opts.BulkMaxOperations, srv.opts.BulkMaxPayloadBytes)}
}

// run processes the operations until every one has a result or failOnErrors
// is reached.
func (job *bulkJob) run(ctx context.Context) {
	for !job.stopped && !job.allDone() {
		progress := false
		var batch []*bulkOp
		keys := map[string]bool{}
		flush := func() {
			job.execConcurrently(ctx, batch)
			batch = batch[:0]
			clear(keys)
		}
		// An operation waiting for a bulkId holds back the later ones on the
		// same resource, so that operations on one resource run in request
		// order (a later PATCH of a group must not run before an earlier one
		// that waited for a user to be created).
		waiting := map[string]bool{}
		for _, op := range job.ops {
			if op.done || job.stopped {
				continue
			}
			if t := bulkTarget(op); !job.ready(op) || (t != "" && waiting[t]) {
				if t != "" {
					waiting[t] = true
				}
				continue
			}
			progress = true
			if ks, ok := job.createKeys(op); ok {
				if len(batch) == bulkBatch || slices.ContainsFunc(ks, func(k string) bool { return keys[k] }) {
					flush()
				}
				batch = append(batch, op)
				for _, k := range ks {
					keys[k] = true
				}
				continue
			}
			flush()
			if !job.stopped {
				job.exec(ctx, op, nil)
			}
		}
		flush()
		if progress {
			continue
		}
		// Nothing is ready: the rest wait on each other (or on bulkIds no
		// operation defines). A group created with a circular reference among
		// its members is created without them, and they are added once they
		// exist (RFC 7644 §3.7.1).
		broke := false
		for _, op := range job.ops {
			if !op.done && job.cyclicMembersOnly(op) {
				job.exec(ctx, op, job.unresolved(op.refs))
				broke = true
				break
			}
		}
		if !broke {
			break
		}
	}
	for _, op := range job.ops {
		if !op.done && !job.stopped {
			job.fail(op, &HTTPError{Status: http.StatusConflict, ScimType: "invalidValue", Detail: fmt.Sprintf(
				"bulkId references %s cannot be resolved: no operation of this request creates them, or they refer to each other in a cycle this service provider cannot break",
				strings.Join(job.unresolved(op.refs), ", "))})
		}
	}
	job.addDeferredMembers(ctx)
}

// bulkTarget is the resource a PUT, PATCH or DELETE operation changes, as
// written in its path ("" for a POST, which creates a new one).
func bulkTarget(op *bulkOp) string {
	if op.Method == http.MethodPost {
		return ""
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(op.Path), "/"))
}

// createKeys returns the unique attributes of a create that may run
// concurrently with others (ok false when it may not).
// (userName, a group's displayName; externalId is not unique).
func (job *bulkJob) createKeys(op *bulkOp) ([]string, bool) {
	if job.maxErr > 0 || op.Method != http.MethodPost || len(op.refs) > 0 || op.BulkID == "" {
		return nil, false
	}
	ep := strings.ToLower(strings.Trim(op.Path, "/ "))
	if ep != "users" && ep != "groups" {
		return nil, false
	}
	var doc struct {
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
	}
	if json.Unmarshal(op.Data, &doc) != nil {
		return nil, false
	}
	name := doc.UserName
	if ep == "groups" {
		name = doc.DisplayName
	}
	return []string{ep + ":" + strings.ToLower(strings.TrimSpace(name))}, true
}

// execConcurrently runs independent creates on bulkWorkers goroutines; on
// the embedded store, which runs one command at a time and pays for a script
// interpreter per call, one after the other (concurrency there only adds
// contention).
func (job *bulkJob) execConcurrently(ctx context.Context, ops []*bulkOp) {
	if e, ok := job.srv.store.(interface{ Embedded() bool }); len(ops) <= 1 || (ok && e.Embedded()) {
		for _, op := range ops {
			job.exec(ctx, op, nil)
		}
		return
	}
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range min(bulkWorkers, len(ops)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(ops); i = int(next.Add(1)) - 1 {
				job.exec(ctx, ops[i], nil)
			}
		})
	}
	wg.Wait()
}

func (job *bulkJob) allDone() bool {
	for _, op := range job.ops {
		if !op.done {
			return false
		}
	}
	return true
}

// ready reports whether every bulkId op refers to has been created, has
// failed, or is created by no operation of the request (in the last two
// cases op fails, with 409, instead of holding back the operations after it).
func (job *bulkJob) ready(op *bulkOp) bool {
	for _, ref := range op.refs {
		if _, ok := job.ids[ref]; !ok && !job.failed[ref] && job.defined[ref] {
			return false
		}
	}
	return true
}

func (job *bulkJob) unresolved(refs []string) []string {
	var out []string
	for _, ref := range refs {
		if _, ok := job.ids[ref]; !ok {
			out = append(out, ref)
		}
	}
	return out
}

// cyclicMembersOnly reports whether op is a group creation whose unresolved
// references all sit in members[].value, each naming an operation of this
// request that is still pending: it can be created first and completed later.
func (job *bulkJob) cyclicMembersOnly(op *bulkOp) bool {
	if op.Method != http.MethodPost || !strings.EqualFold(strings.Trim(op.Path, "/"), "Groups") {
		return false
	}
	var doc map[string]any
	if json.Unmarshal(op.Data, &doc) != nil {
		return false
	}
	members := map[string]bool{}
	if ms, ok := doc["members"].([]any); ok {
		for _, m := range ms {
			if mm, ok := m.(map[string]any); ok {
				if v, ok := mm["value"].(string); ok {
					if ref, ok := strings.CutPrefix(v, bulkIDPrefix); ok {
						members[ref] = true
					}
				}
			}
		}
	}
	delete(doc, "members")
	if len(bulkRefs("", mustJSON(doc))) > 0 {
		return false
	}
	pending := map[string]bool{}
	for _, o := range job.ops {
		if !o.done && o.BulkID != "" {
			pending[o.BulkID] = true
		}
	}
	for _, ref := range job.unresolved(op.refs) {
		if !members[ref] || !pending[ref] {
			return false
		}
	}
	return true
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// exec runs one operation through the single-request handler. leaveOut are
// member bulkIds to drop from a group creation (added later).
func (job *bulkJob) exec(ctx context.Context, op *bulkOp, leaveOut []string) {
	op.done = true
	for _, ref := range op.refs {
		if job.failed[ref] {
			job.fail(op, &HTTPError{Status: http.StatusConflict, ScimType: "invalidValue",
				Detail: fmt.Sprintf("the operation creating bulkId %q failed", ref)})
			return
		}
		if !job.defined[ref] {
			job.fail(op, &HTTPError{Status: http.StatusConflict, ScimType: "invalidValue",
				Detail: fmt.Sprintf("bulkId %q cannot be resolved: no operation of this request creates it", ref)})
			return
		}
	}
	path, herr := job.checkPath(op)
	if herr != nil {
		job.fail(op, herr)
		return
	}
	data := op.Data
	if len(leaveOut) > 0 {
		data = withoutMembers(data, leaveOut)
		op.deferred = leaveOut
	}
	data = job.substitute(data)
	path = job.substituteString(path)

	rec := &bufferedResponse{header: http.Header{}, code: http.StatusOK}
	sub, err := http.NewRequestWithContext(op.audit.Context(ctx), op.Method, "/scim/v2"+path, bytes.NewReader(data))
	if err != nil {
		job.fail(op, errBadRequest("invalidValue", "invalid path %q", op.Path))
		return
	}
	job.inherit(sub)
	if op.Version != "" {
		sub.Header.Set("If-Match", op.Version)
	}
	if err := job.srv.routeResource(rec, sub, job.tenant, path); err != nil {
		he := asHTTPError(err)
		if he.Status >= 500 {
			job.srv.log.Error().Err(err).Str("tenant", job.tenant).Str("method", op.Method).Str("route", routeOf("/scim/v2"+path)).Msg("bulk operation failed")
		}
		job.fail(op, he)
		return
	}
	res := &bulkResult{Method: op.Method, BulkID: op.BulkID, Status: strconv.Itoa(rec.code), Version: rec.header.Get("ETag")}
	switch op.Method {
	case http.MethodPost:
		res.Location = rec.header.Get("Location")
		if op.BulkID != "" {
			if i := strings.LastIndexByte(res.Location, '/'); i >= 0 {
				if id, err := url.PathUnescape(res.Location[i+1:]); err == nil {
					job.mu.Lock()
					job.ids[op.BulkID] = id
					job.mu.Unlock()
				}
			}
		}
	default:
		res.Location = job.srv.baseURL(job.r) + path
	}
	op.result = res
}

// inherit gives an operation's request what the bulk request's client sent
// about itself (host, TLS, peer, forwarded headers), so locations match.
func (job *bulkJob) inherit(sub *http.Request) {
	sub.Host, sub.TLS, sub.RemoteAddr = job.r.Host, job.r.TLS, job.r.RemoteAddr
	for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
		if v := job.r.Header.Get(h); v != "" {
			sub.Header.Set(h, v)
		}
	}
	sub.Header.Set("Content-Type", contentTypeSCIM)
}

func (job *bulkJob) fail(op *bulkOp, he *HTTPError) {
	// location is required except for a failed POST (RFC 7644 §3.7); it is
	// resolved before the lock is taken (idOf takes it).
	var location string
	if op.Method != http.MethodPost {
		if path, perr := job.checkPath(op); perr == nil {
			location = job.srv.baseURL(job.r) + job.substituteString(path)
		}
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	op.done = true
	if op.BulkID != "" {
		job.failed[op.BulkID] = true
	}
	op.result = &bulkResult{Method: op.Method, BulkID: op.BulkID, Status: strconv.Itoa(he.Status), Response: scimErrorBody{
		Schemas: []string{ErrorSchema}, Status: strconv.Itoa(he.Status), ScimType: he.ScimType, Detail: he.Detail,
	}}
	op.result.Location = location
	if op.Method == "" {
		op.result.Method = "UNKNOWN"
	}
	job.errors++
	if job.maxErr > 0 && job.errors >= job.maxErr {
		job.stopped = true
	}
}

// checkPath validates an operation's method and path against what the
// single-request endpoints serve and returns the canonical path.
func (job *bulkJob) checkPath(op *bulkOp) (string, *HTTPError) {
	path := canonicalPath(strings.TrimSuffix(strings.TrimSpace(op.Path), "/"))
	seg, id, hasID := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !strings.HasPrefix(path, "/") || job.srv.typesFor(job.tenant).byEndpoint(seg) == nil || (hasID && (id == "" || strings.Contains(id, "/") || id == ".search")) {
		return "", errBadRequest("invalidPath", "bulk operation path %q is not /Users, /Groups or one of their resources", op.Path)
	}
	switch op.Method {
	case http.MethodPost:
		if hasID {
			return "", errBadRequest("invalidPath", "POST in a bulk request creates a resource: its path is /Users or /Groups")
		}
		if op.BulkID == "" {
			return "", errBadRequest("invalidValue", "a POST operation requires a bulkId (RFC 7644 §3.7)")
		}
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		if !hasID {
			return "", errBadRequest("invalidPath", "%s in a bulk request needs a resource path such as /%s/{id}", op.Method, seg)
		}
	default:
		return "", errBadRequest("invalidValue", "bulk operation method must be POST, PUT, PATCH or DELETE")
	}
	return path, nil
}

// substitute replaces every "bulkId:<id>" string in data by the id of the
// resource created for it (data is returned as is when it holds none).
func (job *bulkJob) substitute(data json.RawMessage) json.RawMessage {
	if !bytes.Contains(data, []byte(bulkIDPrefix)) {
		return data
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return data // the handler reports the syntax error
	}
	v = job.substituteValue(v)
	return mustJSON(v)
}

func (job *bulkJob) substituteValue(v any) any {
	switch x := v.(type) {
	case string:
		return job.substituteString(x)
	case []any:
		for i := range x {
			x[i] = job.substituteValue(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = job.substituteValue(x[k])
		}
	}
	return v
}

// substituteString resolves a whole-string reference, references that are
// path segments ("/Groups/bulkId:g1") and quoted references inside a value
// filter (`members[value eq "bulkId:u1"]`).
func (job *bulkJob) substituteString(s string) string {
	if !strings.Contains(s, bulkIDPrefix) {
		return s
	}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		if ref, ok := strings.CutPrefix(p, bulkIDPrefix); ok {
			if id, ok := job.idOf(ref); ok {
				parts[i] = id
			}
		}
	}
	s = strings.Join(parts, "/")
	for _, ref := range quotedRefs(s) {
		if id, ok := job.idOf(ref); ok {
			s = strings.ReplaceAll(s, `"`+bulkIDPrefix+ref+`"`, strconv.Quote(id))
		}
	}
	return s
}

// idOf returns the id created for bulkId ref. It takes the lock: a value
// holding "bulkId:" text without a reference (an empty one) runs among the
// concurrent creates, which write job.ids.
func (job *bulkJob) idOf(ref string) (string, bool) {
	job.mu.Lock()
	defer job.mu.Unlock()
	id, ok := job.ids[ref]
	return id, ok
}

// quotedRefs lists the bulkIds quoted inside s, as in a value filter:
// `members[value eq "bulkId:u1"]`.
func quotedRefs(s string) []string {
	var out []string
	for rest := s; ; {
		i := strings.Index(rest, `"`+bulkIDPrefix)
		if i < 0 {
			return out
		}
		rest = rest[i+1+len(bulkIDPrefix):]
		j := strings.IndexByte(rest, '"')
		if j < 0 {
			return out
		}
		if j > 0 {
			out = append(out, rest[:j])
		}
		rest = rest[j+1:]
	}
}

// bulkRefs lists the bulkIds path and data refer to, once each.
func bulkRefs(path string, data json.RawMessage) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		for _, p := range strings.Split(s, "/") {
			if ref, ok := strings.CutPrefix(p, bulkIDPrefix); ok && ref != "" && !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
		}
		for _, ref := range quotedRefs(s) {
			if !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
		}
	}
	add(path)
	if bytes.Contains(data, []byte(bulkIDPrefix)) {
		var v any
		if json.Unmarshal(data, &v) == nil {
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case string:
					add(x)
				case []any:
					for _, e := range x {
						walk(e)
					}
				case map[string]any:
					for _, e := range x {
						walk(e)
					}
				}
			}
			walk(v)
		}
	}
	return out
}

// withoutMembers drops the members of a group document that refer to refs.
func withoutMembers(data json.RawMessage, refs []string) json.RawMessage {
	var doc map[string]any
	if json.Unmarshal(data, &doc) != nil {
		return data
	}
	drop := map[string]bool{}
	for _, r := range refs {
		drop[bulkIDPrefix+r] = true
	}
	if ms, ok := doc["members"].([]any); ok {
		kept := ms[:0]
		for _, m := range ms {
			if mm, ok := m.(map[string]any); ok {
				if v, _ := mm["value"].(string); drop[v] {
					continue
				}
			}
			kept = append(kept, m)
		}
		doc["members"] = kept
	}
	return mustJSON(doc)
}

// addDeferredMembers completes the groups created inside a circular reference
// with a PATCH adding the members left out. A failure replaces the
// operation's result.
func (job *bulkJob) addDeferredMembers(ctx context.Context) {
	for _, op := range job.ops {
		if len(op.deferred) == 0 || op.result == nil || op.BulkID == "" {
			continue
		}
		id, ok := job.ids[op.BulkID]
		if !ok {
			continue
		}
		var values []any
		for _, ref := range op.deferred {
			if mid, ok := job.ids[ref]; ok {
				values = append(values, map[string]any{"value": mid})
			}
		}
		if len(values) == 0 {
			continue
		}
		patch := mustJSON(map[string]any{
			"schemas":    []string{PatchOpSchema},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": values}},
		})
		path := "/Groups/" + id
		rec := &bufferedResponse{header: http.Header{}, code: http.StatusOK}
		sub, err := http.NewRequestWithContext(ctx, http.MethodPatch, "/scim/v2"+path, bytes.NewReader(patch))
		if err != nil {
			continue
		}
		job.inherit(sub)
		if err := job.srv.routeResource(rec, sub, job.tenant, path); err != nil {
			he := asHTTPError(err)
			op.result.Status = strconv.Itoa(he.Status)
			op.result.Response = scimErrorBody{Schemas: []string{ErrorSchema}, Status: op.result.Status, ScimType: he.ScimType, Detail: he.Detail}
			continue
		}
		op.result.Version = rec.header.Get("ETag")
	}
}
