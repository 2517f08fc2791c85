package store

// The audit trail of a tenant: one Redis Stream per tenant holding every entry,
// plus a short stream per subject so "the last entries about this user" is one
// XREVRANGE, never a scan. Retention is bounded twice: by length (approximate
// MAXLEN, so trimming stays O(1) amortised) and by age (approximate MINID).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Audit entry kinds.
const (
	AuditSCIM       = "scim"       // a SCIM write accepted or refused
	AuditDownstream = "downstream" // a convergence of one connector for one subject
	AuditWebhook    = "webhook"    // a webhook receipt
	AuditReconcile  = "reconcile"  // a reconciliation run
	AuditAdmin      = "admin"      // an operator's action (a dead-letter retry)
)

// AuditEntry is one line of a tenant's audit trail. It never holds a secret or a
// password; personal data (Name) is left out when the bridge is configured so.
type AuditEntry struct {
	// ID is the stream id, set by ListAudit; it orders entries and is the paging cursor.
	ID   string    `json:"id,omitempty"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Subject is the work-key subject ("User|<id>", "Group|<id>") the entry concerns.
	Subject   string `json:"subject,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	// BulkID is the bulkId of a /Bulk operation (RFC 7644 §3.7), each recorded as its own SCIM write.
	BulkID string `json:"bulkId,omitempty"`

	// SCIM writes.
	Identity     string `json:"identity,omitempty"` // the name of the credential used, never its value
	Method       string `json:"method,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	ResourceID   string `json:"resourceId,omitempty"`
	Name         string `json:"name,omitempty"` // userName or displayName
	Change       string `json:"change,omitempty"`
	Status       int    `json:"status,omitempty"`

	// Downstream actions.
	Connector  string `json:"connector,omitempty"`
	Action     string `json:"action,omitempty"` // op and object, as in reconcile plans
	Outcome    string `json:"outcome,omitempty"`
	ErrorClass string `json:"errorClass,omitempty"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"durationMs,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	// Until is when a failed action is tried again (zero: not at all, or done).
	Until time.Time `json:"until,omitzero"`

	// Webhook receipts and reconcile runs.
	Reason  string         `json:"reason,omitempty"`
	Trigger string         `json:"trigger,omitempty"`
	Counts  map[string]int `json:"counts,omitempty"`

	// IndexOnly writes the entry to its kind's index stream alone (see
	// auditIndex; webhook, reconcile, admin), never to the tenant's stream or
	// a subject's: for what an unauthenticated sender causes (a webhook
	// delivery with a bad signature), so a flood of it cannot push the
	// tenant's real entries out of a trail bounded by length. Ignored for a
	// kind without an index stream. Not stored.
	IndexOnly bool `json:"-"`
}

// AuditRetention bounds a tenant's audit streams.
type AuditRetention struct {
	// MaxLen caps the tenant stream (approximately); 0 means DefaultAuditMaxLen.
	MaxLen int64
	// MaxAge drops entries older than this (approximately); 0 keeps them until MaxLen.
	MaxAge time.Duration
	// PerSubject caps each subject's stream; 0 means DefaultAuditPerSubject.
	PerSubject int64
}

// Defaults of AuditRetention.
const (
	DefaultAuditMaxLen     = 100_000
	DefaultAuditPerSubject = 50
	// subjectStreamTTL keeps a quiet subject's stream when no MaxAge is set.
	subjectStreamTTL = 30 * 24 * time.Hour
)

func auditKey(tenant string) string { return key(tenant, "audit") }

func auditSubjectKey(tenant, subject string) string { return key(tenant, "audit", "s", subject) }

// auditIndexKey is a secondary stream holding the entries of a rare kind
// (webhook, reconcile) or the failed downstream actions ("failed"), so the
// pages that list them read a short stream instead of scanning the tenant's.
func auditIndexKey(tenant, index string) string { return key(tenant, "audit", "i", index) }

// ErrBadAuditQuery is returned by ListAudit for a query no stream range can
// express: a cursor it did not hand out, a time before the Unix epoch (where
// stream ids begin), an unknown kind. Callers answer it as a client error.
var ErrBadAuditQuery = errors.New("invalid audit query")

// auditKinds lists the kinds of entry, for the error naming them.
const auditKinds = AuditSCIM + ", " + AuditDownstream + ", " + AuditWebhook + ", " + AuditReconcile + ", " + AuditAdmin

// validAuditKind reports whether k is an entry kind ("" filters none).
func validAuditKind(k string) bool {
	switch k {
	case "", AuditSCIM, AuditDownstream, AuditWebhook, AuditReconcile, AuditAdmin:
		return true
	}
	return false
}

// auditIndex names the secondary stream e belongs to, "" for none.
func auditIndex(e *AuditEntry) string {
	switch {
	case e.Kind == AuditWebhook || e.Kind == AuditReconcile || e.Kind == AuditAdmin:
		return e.Kind
	case e.Kind == AuditDownstream && e.Outcome != "" && e.Outcome != "synced":
		return "failed"
	}
	return ""
}

// AuditBatch is one tenant's share of a batch of audit entries.
type AuditBatch struct {
	Tenant  string
	Entries []AuditEntry
}

// AppendAudit appends entries to tenant's audit trail in one pipelined round
// trip, trimming as it goes. Entries without a Time get the store's clock.
func (s *Store) AppendAudit(ctx context.Context, tenant string, ret AuditRetention, entries ...AuditEntry) error {
	return s.AppendAuditBatches(ctx, ret, AuditBatch{Tenant: tenant, Entries: entries})
}

// AppendAuditBatches appends the entries of one or more tenants in one
// pipelined round trip (on a cluster, one per node), trimming as it goes:
// per entry an XADD to the tenant's stream and one to its subject's stream
// (plus one to an index stream for the rare kinds and failures); a subject
// stream's TTL is set when this process first writes it and refreshed once
// per tenth of the TTL, not per entry. A refused SCIM write (status 400 and
// above) joins its subject's stream only when that stream exists: a write to
// a made-up id (404) creates no key, so a client cannot create keys at will,
// while a real subject keeps its refused writes next to the others. Entries
// without a Time get the store's clock. On error none may be assumed written.
func (s *Store) AppendAuditBatches(ctx context.Context, ret AuditRetention, batches ...AuditBatch) error {
	if ret.MaxLen <= 0 {
		ret.MaxLen = DefaultAuditMaxLen
	}
	if ret.PerSubject <= 0 {
		ret.PerSubject = DefaultAuditPerSubject
	}
	ttl := subjectStreamTTL
	if ret.MaxAge > 0 {
		ttl = ret.MaxAge
	}
	now := s.now()
	pipe := s.rdb.Pipeline()
	var minID string
	if ret.MaxAge > 0 {
		minID = strconv.FormatInt(now.Add(-ret.MaxAge).UnixMilli(), 10)
	}
	for _, b := range batches {
		if b.Tenant == "" {
			return fmt.Errorf("append audit: empty tenant")
		}
		if len(b.Entries) == 0 {
			continue
		}
		if err := s.queueAudit(ctx, pipe, b, ret, ttl, now); err != nil {
			return err
		}
		if minID != "" {
			pipe.XTrimMinIDApprox(ctx, auditKey(b.Tenant), minID, 0)
			for _, ix := range []string{AuditWebhook, AuditReconcile, AuditAdmin, "failed"} {
				pipe.XTrimMinIDApprox(ctx, auditIndexKey(b.Tenant, ix), minID, 0)
			}
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	if cmds, err := pipe.Exec(ctx); err != nil {
		// redis.Nil is the answer of an XADD NOMKSTREAM to a stream that
		// does not exist (a refused write's subject): not a failure.
		for _, c := range cmds {
			if cerr := c.Err(); cerr != nil && !errors.Is(cerr, redis.Nil) {
				return fmt.Errorf("append audit: %w", cerr)
			}
		}
	}
	return nil
}

// queueAudit adds the commands writing b's entries to pipe.
func (s *Store) queueAudit(ctx context.Context, pipe redis.Pipeliner, b AuditBatch, ret AuditRetention, ttl time.Duration, now time.Time) error {
	main := auditKey(b.Tenant)
	// One buffer for the batch's encoded entries (a few hundred bytes each);
	// each command keeps its slice of it (a larger buffer is a new array: the
	// slices already handed out stay valid).
	buf := make([]byte, 0, len(b.Entries)*384)
	var e AuditEntry // one copy for the batch
	for i := range b.Entries {
		e = b.Entries[i]
		if e.Time.IsZero() {
			e.Time = now
		}
		e.ID = ""
		start := len(buf)
		var err error
		if buf, err = appendAuditJSON(buf, &e); err != nil {
			return fmt.Errorf("append audit of %s: encode entry: %w", b.Tenant, err)
		}
		raw := buf[start:len(buf):len(buf)]
		ix := auditIndex(&e)
		indexOnly := ix != "" && e.IndexOnly
		if !indexOnly {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: main, MaxLen: ret.MaxLen, Approx: true, Values: []any{"e", raw}})
		}
		if ix != "" {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: auditIndexKey(b.Tenant, ix), MaxLen: ret.MaxLen, Approx: true, Values: []any{"e", raw}})
		}
		if indexOnly || e.Subject == "" {
			continue
		}
		sk := auditSubjectKey(b.Tenant, e.Subject)
		if e.Kind == AuditSCIM && e.Status >= 400 {
			// Only into an existing stream, whose TTL its successful
			// writes keep (see AppendAuditBatches); a TTL set here could
			// be noted as set for a key that does not exist.
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: sk, NoMkStream: true, MaxLen: ret.PerSubject, Approx: true, Values: []any{"e", raw}})
			continue
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: sk, MaxLen: ret.PerSubject, Approx: true, Values: []any{"e", raw}})
		if s.auditTTLs.due(sk, now, ttl) {
			pipe.PExpire(ctx, sk, ttl)
		}
	}
	return nil
}

// ttlRefresh remembers when this process last set the TTL of each subject
// stream, so a busy subject's TTL is refreshed once per tenth of the TTL, not
// on every entry. Bounded: it forgets everything past maxTTLRefresh streams.
type ttlRefresh struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const maxTTLRefresh = 100_000

// due reports whether key's TTL should be set now, and notes it as set.
func (r *ttlRefresh) due(key string, now time.Time, ttl time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[key]; ok && now.Sub(t) < ttl/10 {
		return false
	}
	if r.last == nil || len(r.last) >= maxTTLRefresh {
		r.last = make(map[string]time.Time)
	}
	r.last[key] = now
	return true
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	Subject   string
	Connector string
	Outcome   string // matches Outcome, or the SCIM status code as text
	Kind      string
	Since     time.Time // inclusive; zero: no lower bound
	Until     time.Time // inclusive; zero: no upper bound
	// Before is the paging cursor: the ID of the last entry of the previous page.
	Before string
	// Limit is the page size; 0 means 50, at most 1000.
	Limit int
}

// auditScanBudget bounds the entries one ListAudit call reads when filters
// leave most entries out; the call then returns what it found and a cursor to
// go on from.
const auditScanBudget = 2000

// auditWriteSlack bounds how long after its Time an entry reaches its stream
// (the bridge writes them asynchronously, in batches).
const auditWriteSlack = 5 * time.Minute

// ListAudit returns one page of tenant's audit entries matching q, newest
// first, and the cursor of the next page ("" when there is none). A Subject
// query reads that subject's own stream (its last AuditRetention.PerSubject
// entries); webhook receipts, reconcile runs and failed downstream actions
// have a stream of their own too. Other filters scan the tenant's stream at
// most auditScanBudget entries per call: a page may then hold fewer than
// Limit entries and still have a next page. A query no range can express (a
// cursor it did not hand out, a time before 1970, an unknown kind) fails
// with ErrBadAuditQuery.
func (s *Store) ListAudit(ctx context.Context, tenant string, q AuditQuery) ([]AuditEntry, string, error) {
	before, err := q.check()
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	stream := auditKey(tenant)
	// exact: every entry of the stream in the id range matches (apart from
	// the slack of Until), so one read of about a page is enough.
	exact := q.Connector == "" && q.Outcome == ""
	switch {
	case q.Subject != "":
		stream = auditSubjectKey(tenant, q.Subject)
		exact = exact && q.Kind == ""
	case q.Kind == AuditWebhook || q.Kind == AuditReconcile || q.Kind == AuditAdmin:
		stream = auditIndexKey(tenant, q.Kind)
	case (q.Kind == "" || q.Kind == AuditDownstream) && q.Outcome != "" && q.Outcome != "synced" && !isStatusCode(q.Outcome):
		stream = auditIndexKey(tenant, "failed")
	default:
		exact = exact && q.Kind == ""
	}
	end := "+"
	if !q.Until.IsZero() {
		// An entry is stored shortly after its Time: widen the id range by
		// auditWriteSlack and check Time itself in matches.
		end = strconv.FormatInt(q.Until.Add(auditWriteSlack).UnixMilli(), 10)
	}
	if before != "" && (end == "+" || compareStreamIDs(before, end) < 0) {
		end = "(" + before
	}
	start := "-"
	if !q.Since.IsZero() {
		start = strconv.FormatInt(q.Since.UnixMilli(), 10)
	}
	var out []AuditEntry
	read := 0
	// The first range reads about a page; a filtered scan that needs more
	// reads the rest of its budget in one more range (a range costs a round
	// trip, and the embedded store copies the whole stream for each).
	batch := int64(min(max(limit*2, 200), auditScanBudget))
	for read < auditScanBudget {
		msgs, err := s.rdb.XRevRangeN(ctx, stream, end, start, batch).Result()
		if err != nil {
			return nil, "", fmt.Errorf("list audit of %s: %w", tenant, err)
		}
		for _, m := range msgs {
			read++
			e, ok := decodeAudit(m)
			if !ok || !q.matches(&e) {
				continue
			}
			out = append(out, e)
			if len(out) == limit {
				return out, e.ID, nil
			}
		}
		if int64(len(msgs)) < batch {
			return out, "", nil
		}
		end = "(" + msgs[len(msgs)-1].ID
		if !exact {
			batch = int64(auditScanBudget - read)
		}
	}
	// Budget spent: hand back what was found and where to go on.
	return out, strings.TrimPrefix(end, "("), nil
}

// check validates q before it becomes a stream range, which Redis would
// otherwise refuse in its own words (an exclusive end before 0-0, a negative
// id), and returns the cursor rewritten from the numbers parsed, so nothing
// but digits and one "-" reaches the range. Errors wrap ErrBadAuditQuery and
// quote what the client sent, cut short.
func (q *AuditQuery) check() (before string, err error) {
	if !validAuditKind(q.Kind) {
		return "", fmt.Errorf("%w: kind %s: want one of %s", ErrBadAuditQuery, quoteValue(q.Kind), auditKinds)
	}
	epoch := time.UnixMilli(0)
	for _, t := range []struct {
		name string
		v    time.Time
	}{{"since", q.Since}, {"until", q.Until}} {
		if !t.v.IsZero() && t.v.Before(epoch) {
			return "", fmt.Errorf("%w: %s %s: before 1970-01-01T00:00:00Z, where the trail begins", ErrBadAuditQuery, t.name, t.v.UTC().Format(time.RFC3339))
		}
	}
	if q.Before == "" {
		return "", nil
	}
	ms, seq, ok := parseStreamID(q.Before)
	if !ok || (ms == 0 && seq == 0) { // no entry has id 0-0: nothing hands it out
		return "", fmt.Errorf("%w: before %s: want the cursor of a previous page (\"next\", \"<ms>-<seq>\")", ErrBadAuditQuery, quoteValue(q.Before))
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq, 10), nil
}

// quoteValue quotes a value of the client's for an error message, cut to 64
// bytes: a cursor or a filter may be of any size.
func quoteValue(v string) string {
	const limit = 64
	if len(v) > limit {
		return strconv.Quote(strings.ToValidUTF8(v[:limit], "")) + "…(+" + strconv.Itoa(len(v)-limit) + " bytes)"
	}
	return strconv.Quote(v)
}

func isStatusCode(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 100 && n <= 599
}

func decodeAudit(m redis.XMessage) (AuditEntry, bool) {
	raw, _ := m.Values["e"].(string)
	var e AuditEntry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return e, false
	}
	e.ID = m.ID
	return e, true
}

func (q *AuditQuery) matches(e *AuditEntry) bool {
	switch {
	case q.Subject != "" && e.Subject != q.Subject:
		return false
	case q.Connector != "" && e.Connector != q.Connector:
		return false
	case q.Kind != "" && e.Kind != q.Kind:
		return false
	case q.Outcome != "" && e.Outcome != q.Outcome && strconv.Itoa(e.Status) != q.Outcome:
		return false
	case !q.Since.IsZero() && e.Time.Before(q.Since):
		return false
	case !q.Until.IsZero() && e.Time.After(q.Until):
		return false
	}
	return true
}

// parseStreamID parses a full stream id "<ms>-<seq>".
func parseStreamID(id string) (ms, seq uint64, ok bool) {
	a, b, ok := strings.Cut(id, "-")
	if !ok {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// compareStreamIDs orders two stream ids ("<ms>" or "<ms>-<seq>").
func compareStreamIDs(a, b string) int {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ai, _ := strconv.ParseUint(am, 10, 64)
	bi, _ := strconv.ParseUint(bm, 10, 64)
	if ai != bi {
		if ai < bi {
			return -1
		}
		return 1
	}
	if bs == "" { // "<ms>" as an end bound covers every sequence of that ms
		return -1
	}
	asq, _ := strconv.ParseUint(as, 10, 64)
	bsq, _ := strconv.ParseUint(bs, 10, 64)
	switch {
	case asq < bsq:
		return -1
	case asq > bsq:
		return 1
	}
	return 0
}
