package scimapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// listParams are the query parameters of RFC 7644 §3.4.2 (GET) and §3.4.3
// (POST .search), plus cursor (RFC 9865 §2). A nil pointer is an absent
// parameter.
type listParams struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex *int
	count      *int
	// countSyntax is set when count was sent but is not an integer.
	countSyntax bool
	cursor      *string
	o           renderOpts
}

// listResponse is urn:ietf:params:scim:api:messages:2.0:ListResponse (RFC 7644
// §3.4.2), with nextCursor (RFC 9865 §2) when cursor pagination has more pages.
// startIndex is left out of cursor-paginated responses.
type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	StartIndex   *int             `json:"startIndex,omitempty"`
	ItemsPerPage int              `json:"itemsPerPage"`
	NextCursor   string           `json:"nextCursor,omitempty"`
	Resources    []map[string]any `json:"Resources"`
}

// list serves GET /Users, GET /Groups and GET / (every resource type, RFC 7644 §3.4.3).
func (srv *Server) list(w http.ResponseWriter, r *http.Request, tenant string, rts []*resourceType) error {
	q := r.URL.Query()
	p := listParams{
		filter:    q.Get("filter"),
		sortBy:    q.Get("sortBy"),
		sortOrder: q.Get("sortOrder"),
		o:         renderOptsFor(srv, r),
	}
	if v := strings.TrimSpace(q.Get("startIndex")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errBadRequest("invalidValue", "startIndex must be an integer")
		}
		p.startIndex = &n
	}
	if v := strings.TrimSpace(q.Get("count")); v != "" {
		n, err := strconv.Atoi(v)
		p.count, p.countSyntax = &n, err != nil
	}
	if q.Has("cursor") {
		c := q.Get("cursor")
		p.cursor = &c
	}
	return srv.runList(w, r, tenant, rts, p)
}

// searchRequest is urn:ietf:params:scim:api:messages:2.0:SearchRequest (RFC 7644
// §3.4.3), with cursor (RFC 9865 §3).
type searchRequest struct {
	Schemas            []string `json:"schemas"`
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
	Cursor             *string  `json:"cursor"`
}

// search serves POST /Users/.search, /Groups/.search and /.search.
func (srv *Server) search(w http.ResponseWriter, r *http.Request, tenant string, rts []*resourceType) error {
	body, err := srv.readBody(r)
	if err != nil {
		return err
	}
	var sr searchRequest
	if err := json.Unmarshal(body, &sr); err != nil {
		return errBadRequest("invalidSyntax", "malformed SearchRequest: %s", jsonErrorDetail(err))
	}
	ok := false
	for _, s := range sr.Schemas {
		ok = ok || s == SearchSchema
	}
	if !ok {
		return errBadRequest("invalidValue", `"schemas" must be [%q]`, SearchSchema)
	}
	p := listParams{
		filter: sr.Filter, sortBy: sr.SortBy, sortOrder: sr.SortOrder,
		startIndex: sr.StartIndex, count: sr.Count, cursor: sr.Cursor,
		o: renderOpts{base: srv.baseURL(r), attributes: sr.Attributes, excluded: sr.ExcludedAttributes},
	}
	return srv.runList(w, r, tenant, rts, p)
}

// typedQuery is the part of a list request that runs against one resource type.
type typedQuery struct {
	rt     *resourceType
	filter *filter.Filter
	cmp    func(a, b map[string]any) int // nil: unsorted
	none   bool                          // the filter can match no resource of this type
}

// hit is one resource of a list answer with its type.
type hit struct {
	rt  *resourceType
	res *store.Resource
	// grouped: groups holds the user's derived groups, read with the page.
	grouped bool
	groups  []store.GroupRef
}

// listPlan is a checked list request.
type listPlan struct {
	types      []typedQuery
	sorted     bool
	sortBy     string
	cmp        func(a, b map[string]any) int // the comparator across types
	descending bool
	count      int
	// noMembers: the response leaves groups' members out, so the store need
	// not read them (a large group's members are the bulk of its cost).
	noMembers bool
	// withGroups: the response shows users' derived groups.
	withGroups bool
}

// planList compiles the filter and sortBy. A query across several types (root
// search, RFC 7644 §3.4.3) is checked against the union of their schemas, so
// an attribute one type lacks is just unassigned on its resources.
func (srv *Server) planList(rts []*resourceType, p listParams) (*listPlan, error) {
	pl := &listPlan{types: make([]typedQuery, len(rts))}
	switch strings.ToLower(p.sortOrder) {
	case "", "ascending":
	case "descending":
		pl.descending = true
	default:
		return nil, errBadRequest("invalidValue", `sortOrder must be "ascending" or "descending"`)
	}
	rs := rts[0].rs
	if len(rts) > 1 {
		rs = rts[0].root
	}
	var cf *filter.Filter
	if f := strings.TrimSpace(p.filter); f != "" {
		var err error
		if cf, err = filter.Compile(rs, f); err != nil {
			return nil, err
		}
	}
	if p.sortBy != "" {
		cmp, err := filter.Comparator(rs, p.sortBy)
		if err != nil {
			return nil, err
		}
		pl.sorted, pl.sortBy, pl.cmp = true, p.sortBy, cmp
	}
	for i, rt := range rts {
		tq := typedQuery{rt: rt, filter: cf, cmp: pl.cmp}
		if cf != nil && len(rts) > 1 {
			tq.filter, tq.none = ownFilter(rt, cf, p.filter)
		}
		pl.types[i] = tq
	}
	// A filter or sort naming members needs them read: with ExcludeMembers the
	// store answers members filters only when its plan went through the
	// member index (`id eq "g" and members.value eq "u"` does not).
	pl.withGroups = p.o.wants("groups")
	pl.noMembers = !p.o.wants("members") &&
		!strings.Contains(strings.ToLower(p.sortBy+" "+p.filter), "members")
	return pl, nil
}

// ownFilter returns the filter of a root query for one type: compiled against
// the type's own schema when it names only attributes the type has (so the
// store plans it with the type's indexes, as a query of that endpoint), else
// the root filter. none reports that the root filter's index plan looks up
// only attributes the type lacks, so nothing of the type can match: the plan
// finds every match (filter.Filter.Plan), and an attribute the type lacks is
// never equal to anything.
func ownFilter(rt *resourceType, root *filter.Filter, expr string) (f *filter.Filter, none bool) {
	if own, err := filter.Compile(rt.rs, expr); err == nil {
		return own, false
	}
	lookups, ok := root.Plan()
	if !ok {
		return root, false
	}
	for _, l := range lookups {
		if _, err := filter.Compile(rt.rs, l.Attr+" pr"); err == nil {
			return root, false
		}
	}
	return root, true
}

func (srv *Server) runList(w http.ResponseWriter, r *http.Request, tenant string, rts []*resourceType, p listParams) error {
	pl, err := srv.planList(rts, p)
	if err != nil {
		return err
	}
	var (
		lr   listResponse
		hits []hit
	)
	if p.cursor != nil {
		if p.startIndex != nil {
			return errBadRequest("invalidValue", "startIndex and cursor cannot be combined: choose index or cursor pagination")
		}
		if p.countSyntax || (p.count != nil && *p.count < 1) {
			return errBadRequest("invalidCount", "count must be an integer from 1 to %d", srv.opts.MaxResults)
		}
		pl.count = srv.opts.MaxResults
		if p.count != nil {
			pl.count = min(*p.count, srv.opts.MaxResults)
		}
		hits, lr.TotalResults, lr.NextCursor, err = srv.cursorPage(r.Context(), tenant, pl, p)
	} else {
		if p.countSyntax {
			return errBadRequest("invalidValue", "count must be an integer")
		}
		start := 1
		if p.startIndex != nil && *p.startIndex > 1 {
			start = *p.startIndex // RFC 7644 §3.4.2.4: less than 1 is interpreted as 1
		}
		pl.count = srv.opts.MaxResults
		if p.count != nil {
			// Negative is interpreted as 0; never more than maxResults.
			pl.count = min(max(*p.count, 0), srv.opts.MaxResults)
		}
		hits, lr.TotalResults, err = srv.indexPage(r.Context(), tenant, pl, start)
		lr.StartIndex = &start
	}
	if err != nil {
		return err
	}
	lr.Schemas = []string{ListSchema}
	lr.ItemsPerPage = len(hits)
	lr.Resources, err = srv.renderHits(r.Context(), tenant, hits, p.o)
	if err != nil {
		return err
	}
	out, err := json.Marshal(lr)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentTypeSCIM)
	_, _ = w.Write(out)
	return nil
}

// renderHits renders resources of one or more types in order, deriving users'
// groups once per type when the response includes them.
func (srv *Server) renderHits(ctx context.Context, tenant string, hits []hit, o renderOpts) ([]map[string]any, error) {
	byType := map[*resourceType][]*store.Resource{}
	for _, h := range hits {
		if !h.grouped {
			byType[h.rt] = append(byType[h.rt], h.res)
		}
	}
	groups := map[string][]store.GroupRef{}
	for rt, rs := range byType {
		g, err := srv.groupsFor(ctx, tenant, rt, rs, o)
		if err != nil {
			return nil, err
		}
		for id, refs := range g {
			groups[id] = refs
		}
	}
	out := make([]map[string]any, 0, len(hits))
	for _, h := range hits {
		g := groups[h.res.ID]
		if h.grouped {
			g = h.groups
		}
		out = append(out, srv.view(h.rt, h.res, g, resourceTag(h.res, g), o))
	}
	return out, nil
}

// indexPage answers index-based pagination (RFC 7644 §3.4.2.4): count resources
// from the 1-based start, with the total number of matches. Several types are
// one sequence: without sortBy every match of the first type, then of the
// next; with sortBy, one order merged from each type's own sorted prefix.
func (srv *Server) indexPage(ctx context.Context, tenant string, pl *listPlan, start int) ([]hit, int, error) {
	var (
		hits  []hit
		total int
	)
	if !pl.sorted {
		skip := start - 1
		for _, tq := range pl.types {
			if tq.none {
				continue
			}
			// Users' derived groups come with the page (in the same round
			// trip as an index lookup such as userName eq).
			withGroups := pl.withGroups && tq.rt.kind == store.KindUser
			page, err := srv.store.Query(ctx, tenant, tq.rt.kind, store.Query{
				Filter: tq.filter, StartIndex: skip + 1, Count: pl.count - len(hits), ExcludeMembers: pl.noMembers,
				WithGroups: withGroups,
			})
			if err != nil {
				return nil, 0, err
			}
			total += page.Total
			skip = max(skip-page.Total, 0)
			for _, res := range page.Resources {
				hits = append(hits, hit{rt: tq.rt, res: res, grouped: withGroups, groups: page.Groups[res.ID]})
			}
		}
		return hits, total, nil
	}
	if len(pl.types) == 1 {
		tq := pl.types[0]
		page, err := srv.store.Query(ctx, tenant, tq.rt.kind, store.Query{
			Filter: tq.filter, SortBy: tq.cmp, Descending: pl.descending, StartIndex: start, Count: pl.count,
			ExcludeMembers: pl.noMembers,
		})
		if err != nil {
			return nil, 0, err
		}
		for _, res := range page.Resources {
			hits = append(hits, hit{rt: tq.rt, res: res})
		}
		return hits, page.Total, nil
	}
	// The first start-1+count of the merged order are among the first
	// start-1+count of each type.
	prefix := start - 1 + pl.count
	var items []sortedHit
	for _, tq := range pl.types {
		if tq.none {
			continue
		}
		page, err := srv.store.Query(ctx, tenant, tq.rt.kind, store.Query{
			Filter: tq.filter, SortBy: tq.cmp, Descending: pl.descending, StartIndex: 1, Count: prefix,
			ExcludeMembers: pl.noMembers,
		})
		if err != nil {
			return nil, 0, err
		}
		total += page.Total
		for _, res := range page.Resources {
			items = append(items, pl.sortedHit(tq, res))
		}
	}
	slices.SortStableFunc(items, pl.compareHits)
	if from := start - 1; from < len(items) {
		for _, it := range items[from:min(from+pl.count, len(items))] {
			hits = append(hits, it.hit)
		}
	}
	return hits, total, nil
}

// sortedHit is a hit with what sorts it.
type sortedHit struct {
	hit
	view    map[string]any
	missing bool // no value to sort by: always last (RFC 7644 §3.4.2.3)
}

func (pl *listPlan) sortedHit(tq typedQuery, res *store.Resource) sortedHit {
	v := res.View()
	return sortedHit{hit: hit{rt: tq.rt, res: res}, view: v, missing: pl.cmp(v, map[string]any{}) == 0}
}

// compareHits orders by the sort attribute (missing values last in both
// directions, as the store does).
func (pl *listPlan) compareHits(a, b sortedHit) int {
	switch {
	case a.missing && b.missing:
		return 0
	case a.missing:
		return 1
	case b.missing:
		return -1
	}
	if pl.descending {
		return pl.cmp(b.view, a.view)
	}
	return pl.cmp(a.view, b.view)
}
