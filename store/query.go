package store

import (
	"cmp"
	"context"
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
// ties keep creation order. With Descending the order of SortBy is reversed but
// resources whose sort attribute is missing stay last (a resource counts as
// missing when SortBy ranks it equal to an empty resource, which SortBy's
// missing-last rule implies). StartIndex is 1-based (<1 means 1); Count 0 (or
// less) returns only Total.
func (s *Store) Query(ctx context.Context, tenant string, kind Kind, q Query) (Page, error) {
	if err := checkResourceKey(tenant, kind, nil); err != nil {
		return Page{}, fmt.Errorf("query: %w", err)
	}
	c := &queryCollector{start: max(q.StartIndex, 1), count: max(q.Count, 0), sorting: q.SortBy != nil}
	if q.Filter == nil && q.SortBy == nil {
		return s.pageInOrder(ctx, tenant, kind, c.start, c.count)
	}
	wantGroups := kind == KindUser && q.Filter != nil &&
		strings.Contains(strings.ToLower(q.Filter.String()), "groups")
	consider := func(docs []loadedDoc) error {
		var groups map[string][]GroupRef
		if wantGroups {
			ids := make([]string, len(docs))
			for i, d := range docs {
				ids[i] = d.r.ID
			}
			var err error
			if groups, err = s.GroupsOf(ctx, tenant, ids); err != nil {
				return err
			}
		}
		for _, d := range docs {
			v := d.r.View()
			if g := groups[d.r.ID]; len(g) > 0 {
				v["groups"] = groupsView(g)
			}
			if q.Filter != nil && !q.Filter.Match(v) {
				continue
			}
			c.add(d.r, v)
		}
		return nil
	}

	if q.Filter != nil {
		if lookups, ok := q.Filter.Plan(); ok {
			ids, ok, err := s.resolveLookups(ctx, tenant, kind, lookups)
			if err != nil {
				return Page{}, fmt.Errorf("query %s: %w", kind, err)
			}
			if ok {
				docs, err := s.loadDocs(ctx, tenant, kind, ids)
				if err != nil {
					return Page{}, fmt.Errorf("query %s: %w", kind, err)
				}
				slices.SortFunc(docs, func(a, b loadedDoc) int { return cmp.Compare(a.seq, b.seq) })
				if err := consider(docs); err != nil {
					return Page{}, fmt.Errorf("query %s: %w", kind, err)
				}
				return c.page(q.SortBy, q.Descending), nil
			}
		}
	}
	if err := s.scan(ctx, tenant, kind, scanBatch, consider); err != nil {
		return Page{}, fmt.Errorf("query %s: %w", kind, err)
	}
	return c.page(q.SortBy, q.Descending), nil
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
	r       *Resource
	view    map[string]any
	missing bool
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
		empty := map[string]any{}
		for i := range c.all {
			c.all[i].missing = sortBy(c.all[i].view, empty) == 0
		}
		slices.SortStableFunc(c.all, func(a, b sortItem) int {
			switch {
			case a.missing && b.missing:
				return 0
			case a.missing:
				return 1
			case b.missing:
				return -1
			}
			return sortBy(b.view, a.view)
		})
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
func (s *Store) pageInOrder(ctx context.Context, tenant string, kind Kind, start, count int) (Page, error) {
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
	docs, err := s.loadDocs(ctx, tenant, kind, rng.Val())
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
	return s.scan(ctx, tenant, kind, batch, func(docs []loadedDoc) error {
		rs := make([]*Resource, len(docs))
		for i, d := range docs {
			rs[i] = d.r
		}
		return fn(rs)
	})
}

// scan streams the documents of kind in creation order, batch per call of fn.
func (s *Store) scan(ctx context.Context, tenant string, kind Kind, batch int, fn func([]loadedDoc) error) error {
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
		docs, err := s.loadDocs(ctx, tenant, kind, ids)
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
