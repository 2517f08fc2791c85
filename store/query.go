package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// scanBatch is the number of documents a scan reads per round trip pair.
const scanBatch = 500

// Query returns one page of the resources of kind that match q.Filter (all when
// nil), with Total the number of matches (RFC 7644 §3.4.2).
//
// Plan: without filter and sort the page is read straight from the creation
// order (O(page)); a filter whose Plan is answerable from the indexes loads only
// the candidates; any other filter, or a sort, streams every resource in
// batches. q.Filter.Match sees Resource.View, plus "groups" for users when the
// filter mentions groups. Results keep creation order unless q.SortBy is set;
// ties keep creation order. With Descending the order of SortBy is reversed,
// so resources whose sort attribute is missing (last in SortBy's order) come
// first (RFC 7644 §3.4.2.3). StartIndex is 1-based (<1 means 1); Count 0 (or
// less) returns only Total.
func (s *Store) Query(ctx context.Context, tenant string, kind Kind, q Query) (Page, error) {
	if err := checkResourceKey(tenant, kind, nil); err != nil {
		return Page{}, fmt.Errorf("query: %w", err)
	}
	c := &queryCollector{start: max(q.StartIndex, 1), count: max(q.Count, 0), sorting: q.SortBy != nil}
	withMembers := kind == KindGroup && !q.ExcludeMembers
	if q.Filter == nil && q.SortBy == nil {
		p, err := s.pageInOrder(ctx, tenant, kind, c.start, c.count, withMembers)
		if err != nil {
			return Page{}, err
		}
		return s.withGroups(ctx, tenant, kind, q, p)
	}
	var lowerFilter string
	if q.Filter != nil {
		lowerFilter = strings.ToLower(q.Filter.String())
	}
	wantGroups := kind == KindUser && strings.Contains(lowerFilter, "groups")
	matchMembers := kind == KindGroup && strings.Contains(lowerFilter, "members")
	// lean: users are matched on their attributes and id without building a
	// view (the meta map, its times and version), when nothing needs one.
	lean := kind == KindUser && q.Filter != nil && q.SortBy == nil && !wantGroups &&
		!strings.Contains(lowerFilter, "meta")
	// synthetic: on an index plan, the members each candidate group was found
	// by, enough to match a filter that only tests members.value equality.
	var synthetic map[string][]any
	consider := func(docs []decodedDoc) error {
		groups, err := s.groupsOfDocs(ctx, tenant, docs, wantGroups)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if lean {
				// A user matched without a view: its attributes and its id
				// are all a filter naming neither meta nor groups can test.
				d.r.Attrs["id"] = d.r.ID
				ok := q.Filter.Match(d.r.Attrs)
				delete(d.r.Attrs, "id")
				if ok {
					c.add(d.r, nil)
				}
				continue
			}
			v := d.r.View()
			if g := groups[d.r.ID]; len(g) > 0 {
				v["groups"] = groupsView(g)
			}
			if synthetic != nil {
				v["members"] = synthetic[d.r.ID]
			}
			if q.Filter != nil && !q.Filter.Match(v) {
				continue
			}
			if kind == KindGroup && q.ExcludeMembers {
				delete(d.r.Attrs, "members")
			}
			c.add(d.r, v)
		}
		return nil
	}

	if q.Filter != nil {
		if lookups, ok := q.Filter.Plan(); ok {
			// One round trip on Redis; the embedded store pays a Lua state per
			// script (~300 µs), more than the second round trip of the pipeline.
			if index, mode, value, ok := singleLookup(tenant, kind, lookups); ok && !matchMembers && !s.Embedded() {
				docs, groups, err := s.lookupDocs(ctx, tenant, kind, index, mode, value, withMembers, q.WithGroups && kind == KindUser)
				if err != nil {
					return Page{}, fmt.Errorf("query %s: %w", kind, err)
				}
				if err := consider(docs); err != nil {
					return Page{}, fmt.Errorf("query %s: %w", kind, err)
				}
				p := c.page(q.SortBy, q.Descending)
				if q.WithGroups && kind == KindUser {
					p.Groups = make(map[string][]GroupRef, len(p.Resources))
					for _, r := range p.Resources {
						if g := groups[r.ID]; len(g) > 0 {
							p.Groups[r.ID] = g
						}
					}
				}
				return p, nil
			}
			ids, ok, err := s.resolveLookups(ctx, tenant, kind, lookups)
			if err != nil {
				return Page{}, fmt.Errorf("query %s: %w", kind, err)
			}
			if ok {
				load := withMembers
				var values []string
				if matchMembers {
					var onlyValues bool
					if values, onlyValues = memberValueLiterals(q.Filter.String()); !onlyValues || !q.ExcludeMembers {
						load = true
					}
				}
				docs, err := s.loadDocs(ctx, tenant, kind, ids, load)
				if err != nil {
					return Page{}, fmt.Errorf("query %s: %w", kind, err)
				}
				if matchMembers && !load {
					// The filter only tests members.value equality: which of
					// those values each candidate has, from the reverse index.
					if synthetic, err = s.memberHits(ctx, tenant, docs, values); err != nil {
						return Page{}, fmt.Errorf("query %s: %w", kind, err)
					}
				}
				slices.SortFunc(docs, func(a, b decodedDoc) int { return cmp.Compare(a.seq, b.seq) })
				if err := consider(docs); err != nil {
					return Page{}, fmt.Errorf("query %s: %w", kind, err)
				}
				return s.withGroups(ctx, tenant, kind, q, c.page(q.SortBy, q.Descending))
			}
		}
	}
	if err := s.scan(ctx, tenant, kind, scanBatch, withMembers || matchMembers, consider); err != nil {
		return Page{}, fmt.Errorf("query %s: %w", kind, err)
	}
	return s.withGroups(ctx, tenant, kind, q, c.page(q.SortBy, q.Descending))
}

// withGroups fills p.Groups when q asks for them.
func (s *Store) withGroups(ctx context.Context, tenant string, kind Kind, q Query, p Page) (Page, error) {
	if !q.WithGroups || kind != KindUser || len(p.Resources) == 0 {
		return p, nil
	}
	ids := make([]string, len(p.Resources))
	for i, r := range p.Resources {
		ids[i] = r.ID
	}
	g, err := s.GroupsOf(ctx, tenant, ids)
	if err != nil {
		return Page{}, fmt.Errorf("query %s: %w", kind, err)
	}
	p.Groups = g
	return p, nil
}

// memberValueLiterals returns the values of a filter (in canonical form,
// see filter.Filter.String) in which every mention of members is an equality
// test of members.value with a string (`members.value eq "x"` or
// `members[value eq "x"]`), so that the members found through the reverse
// index are all a match needs to see; ok is false for any other filter.
func memberValueLiterals(f string) (values []string, ok bool) {
	for {
		i := indexFold(f, "members")
		if i < 0 {
			return values, true
		}
		rest := f[i+len("members"):]
		bracket := hasPrefixFold(rest, `[value eq "`)
		if !bracket && !hasPrefixFold(rest, `.value eq "`) {
			return nil, false
		}
		rest = rest[len(`.value eq `):]
		end := closingQuote(rest[1:])
		if end < 0 {
			return nil, false
		}
		var v string
		if err := json.Unmarshal([]byte(rest[:end+2]), &v); err != nil {
			return nil, false
		}
		values = append(values, v)
		rest = rest[end+2:]
		if bracket {
			if !strings.HasPrefix(rest, "]") {
				return nil, false
			}
			rest = rest[1:]
		}
		f = rest
	}
}

func indexFold(s, sub string) int { return strings.Index(strings.ToLower(s), sub) }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// memberHits tells, for each group of docs, which of values are its members
// (as "members" values), from the reverse index: one round trip.
func (s *Store) memberHits(ctx context.Context, tenant string, docs []decodedDoc, values []string) (map[string][]any, error) {
	out := make(map[string][]any, len(docs))
	if len(docs) == 0 || len(values) == 0 {
		return out, nil
	}
	probe := make([]string, 0, 2*len(docs)*len(values))
	for _, d := range docs {
		for _, v := range values {
			probe = append(probe, lexMember(queueMember(WorkUser, v), d.r.ID), lexMember(queueMember(WorkGroup, v), d.r.ID))
		}
	}
	args := make([]any, 0, 2+len(probe))
	args = append(args, "ZMSCORE", memberOfIndexKey(tenant))
	for _, p := range probe {
		args = append(args, p)
	}
	scores, err := s.rdb.Do(ctx, args...).Slice() // nil: not a member
	if err != nil {
		return nil, fmt.Errorf("member lookups: %w", err)
	}
	i := 0
	for _, d := range docs {
		for _, v := range values {
			if scores[i] != nil || scores[i+1] != nil {
				out[d.r.ID] = append(out[d.r.ID], map[string]any{"value": v})
			}
			i += 2
		}
	}
	return out, nil
}

// closingQuote returns the index of the first unescaped '"' in s, or -1.
func closingQuote(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// queryCollector counts matches and keeps the requested page (or, when sorting,
// every match until the sort).
type queryCollector struct {
	start, count int
	sorting      bool
	total        int
	kept         []*Resource
	all          []sortItem
}

type sortItem struct {
	r    *Resource
	view map[string]any
}

func (c *queryCollector) add(r *Resource, view map[string]any) {
	c.total++
	if c.sorting {
		c.all = append(c.all, sortItem{r: r, view: view})
		return
	}
	if c.total >= c.start && len(c.kept) < c.count {
		c.kept = append(c.kept, r)
	}
}

func (c *queryCollector) page(sortBy func(a, b map[string]any) int, descending bool) Page {
	p := Page{Total: c.total}
	if !c.sorting {
		p.Resources = c.kept
		return p
	}
	if descending {
		// SortBy puts missing values last; reversed, they come first, as
		// RFC 7644 §3.4.2.3 asks ("last if ascending and first if
		// descending"). Ties keep creation order either way.
		slices.SortStableFunc(c.all, func(a, b sortItem) int { return sortBy(b.view, a.view) })
	} else {
		slices.SortStableFunc(c.all, func(a, b sortItem) int { return sortBy(a.view, b.view) })
	}
	from := c.start - 1
	if from >= len(c.all) || c.count == 0 {
		return p
	}
	to := min(from+c.count, len(c.all))
	p.Resources = make([]*Resource, 0, to-from)
	for _, it := range c.all[from:to] {
		p.Resources = append(p.Resources, it.r)
	}
	return p
}

// pageInOrder reads one page in creation order: ZCARD and ZRANGE in one round
// trip, then the documents in another.
func (s *Store) pageInOrder(ctx context.Context, tenant string, kind Kind, start, count int, members bool) (Page, error) {
	pipe := s.rdb.Pipeline()
	card := pipe.ZCard(ctx, orderKey(tenant, kind))
	var rng *redis.StringSliceCmd
	if count > 0 {
		rng = pipe.ZRange(ctx, orderKey(tenant, kind), int64(start-1), int64(start-1+count-1))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Page{}, fmt.Errorf("query %s: read order: %w", kind, err)
	}
	p := Page{Total: int(card.Val())}
	if rng == nil || len(rng.Val()) == 0 {
		return p, nil
	}
	docs, err := s.loadDocs(ctx, tenant, kind, rng.Val(), members)
	if err != nil {
		return Page{}, fmt.Errorf("query %s: %w", kind, err)
	}
	p.Resources = make([]*Resource, len(docs))
	for i, d := range docs {
		p.Resources[i] = d.r
	}
	return p, nil
}

// ForEach calls fn with the resources of kind in creation order, batch at a
// time (batch <= 0 means 500), stopping at fn's first error, which it returns.
// It pages by creation sequence, not by rank, so resources created or deleted
// meanwhile never make it skip or repeat another one; resources created after
// the call started may or may not be seen.
func (s *Store) ForEach(ctx context.Context, tenant string, kind Kind, batch int, fn func([]*Resource) error) error {
	if err := checkResourceKey(tenant, kind, nil); err != nil {
		return fmt.Errorf("for each: %w", err)
	}
	if batch <= 0 {
		batch = scanBatch
	}
	return s.scan(ctx, tenant, kind, batch, true, func(docs []decodedDoc) error {
		rs := make([]*Resource, len(docs))
		for i, d := range docs {
			rs[i] = d.r
		}
		return fn(rs)
	})
}

// scan streams the documents of kind in creation order, batch per call of fn;
// members tells whether groups come with their members.
func (s *Store) scan(ctx context.Context, tenant string, kind Kind, batch int, members bool, fn func([]decodedDoc) error) error {
	from := "-inf"
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan %s: %w", kind, err)
		}
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, orderKey(tenant, kind),
			&redis.ZRangeBy{Min: from, Max: "+inf", Count: int64(batch)}).Result()
		if err != nil {
			return fmt.Errorf("scan %s: read order: %w", kind, err)
		}
		if len(zs) == 0 {
			return nil
		}
		ids := make([]string, len(zs))
		for i, z := range zs {
			ids[i], _ = z.Member.(string)
		}
		docs, err := s.loadDocs(ctx, tenant, kind, ids, members)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(docs) > 0 {
			if err := fn(docs); err != nil {
				return err
			}
		}
		if len(zs) < batch {
			return nil
		}
		from = "(" + strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
	}
}

// groupsOfDocs returns the groups of the users in docs when want (a filter
// tests "groups"), else nil.
func (s *Store) groupsOfDocs(ctx context.Context, tenant string, docs []decodedDoc, want bool) (map[string][]GroupRef, error) {
	if !want {
		return nil, nil
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.r.ID
	}
	return s.GroupsOf(ctx, tenant, ids)
}
