package scimapi

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// DefaultCursorTimeout is how long a cursor stays valid when
// Options.CursorTimeout is 0 (advertised as pagination.cursorTimeout).
const DefaultCursorTimeout = time.Hour

// cursorMACSize is the length of the truncated HMAC-SHA256 of a cursor.
const cursorMACSize = 16

// cursorState is the position a cursor (RFC 9865 §2) stands for. It is sent
// to the client as base64url(JSON) "." base64url(HMAC-SHA256), so a client
// can neither read anything useful into it nor forge or alter one.
//
// Without sortBy a position is (type, creation sequence): the resource types
// of the request follow each other, each in creation order, and a creation
// sequence is never reused. With sortBy it is the last resource's sort value,
// creation time and id, a total order that no create or delete of another
// resource can shift. Either way a resource that exists throughout a
// traversal is returned exactly once.
type cursorState struct {
	Query  string         `json:"q"`           // binds the cursor to tenant, endpoint, filter and sort
	Issued int64          `json:"t"`           // unix seconds
	Type   int            `json:"k,omitempty"` // index of the resource type (unsorted)
	Seq    int64          `json:"s,omitempty"` // last creation sequence returned (unsorted)
	Sort   map[string]any `json:"v,omitempty"` // last sort value (sorted)
	Miss   bool           `json:"m,omitempty"` // the last resource had no sort value (sorted)
	Nanos  int64          `json:"c,omitempty"` // last created time, unix ns (sorted)
	ID     string         `json:"i,omitempty"` // last id (sorted)
}

// queryBinding identifies the query a cursor belongs to: RFC 9865 §2 has the
// client repeat every parameter but cursor (and count) unchanged.
func queryBinding(tenant string, pl *listPlan, p listParams) string {
	h := sha256.New()
	for _, part := range []string{tenant, strings.TrimSpace(p.filter), strings.ToLower(p.sortBy), strings.ToLower(p.sortOrder)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, tq := range pl.types {
		h.Write([]byte(tq.rt.endpoint))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// cursorKey is the key cursors are signed with, and when it was read.
type cursorKey struct {
	key  []byte
	read time.Time // zero: never read again (configured or random)
}

// cursorKeyRefresh is how often a shared cursor key is read again: a key
// recreated after Redis lost it (a failover, a restore) reaches every replica
// within it, instead of splitting them until each restarts.
const cursorKeyRefresh = time.Minute

// cursorMAC is the MAC of a cursor's payload; loadCursorKey has run.
func (srv *Server) cursorMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, srv.cursorKey.Load().key)
	m.Write(payload)
	return m.Sum(nil)[:cursorMACSize]
}

// loadCursorKey makes sure the cursor key is known: the shared key is read
// on the first cursor a process issues or checks, and again once it is
// cursorKeyRefresh old (a failure to read it, Redis unavailable, fails the
// request when no key is known yet, and keeps the known one otherwise).
func (srv *Server) loadCursorKey(ctx context.Context) error {
	cur := srv.cursorKey.Load()
	if cur != nil && (cur.read.IsZero() || srv.now().Sub(cur.read) < cursorKeyRefresh) {
		return nil
	}
	k, err := srv.opts.SharedCursorKey(ctx)
	if err != nil {
		if cur != nil {
			return nil
		}
		return fmt.Errorf("cursor pagination: %w", err)
	}
	srv.cursorKey.CompareAndSwap(cur, &cursorKey{key: k, read: srv.now()})
	return nil
}

func (srv *Server) encodeCursor(st cursorState) string {
	st.Issued = srv.now().Unix()
	payload, _ := json.Marshal(st)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(srv.cursorMAC(payload))
}

func errInvalidCursor() *HTTPError {
	return errBadRequest("invalidCursor", "cursor is not valid for this query: send an empty cursor for the first page, then the nextCursor of the previous page, with every other parameter unchanged")
}

// decodeCursor checks a cursor's MAC, query binding and age.
func (srv *Server) decodeCursor(s, binding string) (cursorState, error) {
	var st cursorState
	p64, m64, ok := strings.Cut(s, ".")
	if !ok {
		return st, errInvalidCursor()
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, srv.cursorMAC(payload)) {
		return st, errInvalidCursor()
	}
	if json.Unmarshal(payload, &st) != nil || st.Query != binding {
		return st, errInvalidCursor()
	}
	if srv.now().Sub(time.Unix(st.Issued, 0)) > srv.cursorTimeout() {
		return st, errBadRequest("expiredCursor", "cursor has expired (cursors are valid for %d seconds): start again with an empty cursor", int64(srv.cursorTimeout()/time.Second))
	}
	return st, nil
}

func (srv *Server) cursorTimeout() time.Duration {
	if srv.opts.CursorTimeout > 0 {
		return srv.opts.CursorTimeout
	}
	return DefaultCursorTimeout
}

// cursorPage answers cursor-based pagination (RFC 9865): the page after the
// position of p.cursor (the first page when it is empty), the total number of
// matches and the cursor of the next page ("" on the last page).
func (srv *Server) cursorPage(ctx context.Context, tenant string, pl *listPlan, p listParams) ([]hit, int, string, error) {
	if err := srv.loadCursorKey(ctx); err != nil {
		return nil, 0, "", err
	}
	binding := queryBinding(tenant, pl, p)
	var (
		st    cursorState
		first = strings.TrimSpace(*p.cursor) == ""
	)
	if !first {
		var err error
		if st, err = srv.decodeCursor(strings.TrimSpace(*p.cursor), binding); err != nil {
			return nil, 0, "", err
		}
	}
	if pl.sorted {
		return srv.sortedCursorPage(ctx, tenant, pl, st, first, binding)
	}
	if st.Type < 0 || st.Type >= len(pl.types) {
		return nil, 0, "", errInvalidCursor()
	}
	totals := make([]int, len(pl.types))
	total := 0
	for i, tq := range pl.types {
		if tq.none {
			continue
		}
		page, err := srv.store.Query(ctx, tenant, tq.rt.kind, store.Query{Filter: tq.filter, ExcludeMembers: true})
		if err != nil {
			return nil, 0, "", err
		}
		totals[i] = page.Total
		total += page.Total
	}
	var hits []hit
	for k := st.Type; k < len(pl.types); k++ {
		tq := pl.types[k]
		if tq.none {
			continue
		}
		after := int64(0)
		if k == st.Type {
			after = st.Seq
		}
		page, err := srv.store.QueryAfter(ctx, tenant, tq.rt.kind, tq.filter, after, pl.count-len(hits))
		if err != nil {
			return nil, 0, "", err
		}
		for _, res := range page.Resources {
			hits = append(hits, hit{rt: tq.rt, res: res})
		}
		if len(hits) < pl.count {
			continue
		}
		more := page.More
		for _, t := range totals[k+1:] {
			more = more || t > 0
		}
		if !more {
			break
		}
		last := after
		if n := len(page.Seqs); n > 0 {
			last = page.Seqs[n-1]
		}
		return hits, total, srv.encodeCursor(cursorState{Query: binding, Type: k, Seq: last}), nil
	}
	return hits, total, "", nil
}

// sortedCursorPage is cursorPage with sortBy: every match is ordered by (sort
// value, created, id) and the page starts after the cursor's position.
func (srv *Server) sortedCursorPage(ctx context.Context, tenant string, pl *listPlan, st cursorState, first bool, binding string) ([]hit, int, string, error) {
	var items []sortedHit
	for _, tq := range pl.types {
		if tq.none {
			continue
		}
		page, err := srv.store.Query(ctx, tenant, tq.rt.kind, store.Query{Filter: tq.filter, Count: math.MaxInt32, ExcludeMembers: pl.noMembers})
		if err != nil {
			return nil, 0, "", err
		}
		for _, res := range page.Resources {
			items = append(items, pl.sortedHit(tq, res))
		}
	}
	order := func(a, b sortedHit) int {
		if c := pl.compareHits(a, b); c != 0 {
			return c
		}
		if c := a.res.Created.Compare(b.res.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.res.ID, b.res.ID)
	}
	slices.SortFunc(items, order)
	from := 0
	if !first {
		key := sortedHit{hit: hit{res: &store.Resource{ID: st.ID, Created: time.Unix(0, st.Nanos)}}, view: st.Sort, missing: st.Miss}
		if key.view == nil {
			key.view = map[string]any{}
		}
		from, _ = slices.BinarySearchFunc(items, key, order)
		if from < len(items) && order(items[from], key) == 0 {
			from++
		}
	}
	to := min(from+pl.count, len(items))
	hits := make([]hit, 0, to-from)
	for _, it := range items[from:to] {
		hits = append(hits, it.hit)
	}
	next := ""
	if to < len(items) && to > from {
		last := items[to-1]
		next = srv.encodeCursor(cursorState{
			Query: binding, Sort: filter.Project(last.rt.rs, last.view, []string{pl.sortBy}, nil),
			Miss: last.missing, Nanos: last.res.Created.UnixNano(), ID: last.res.ID,
		})
	}
	return hits, len(items), next, nil
}
