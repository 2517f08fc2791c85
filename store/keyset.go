package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
)

// KeysetPage is one page of a keyset scan (QueryAfter).
type KeysetPage struct {
	// Resources match the filter, in creation order.
	Resources []*Resource
	// Seqs[i] is the creation sequence of Resources[i]: pass the last one as
	// the next call's after.
	Seqs []int64
	// More reports whether matches may follow the last resource returned.
	More bool
}

// QueryAfter returns up to count resources of kind matching f (all when nil)
// whose creation sequence is greater than after (0: from the first), in
// creation order. It is the keyset scan behind cursor pagination (RFC 9865):
// a position is a creation sequence, which never changes and is never reused,
// so resources created or deleted between two calls never make a resource
// that existed throughout be skipped or returned twice. A filter answerable
// from the indexes (Filter.Plan) loads only its candidates; any other filter
// reads the creation order from after onwards until count matches are found.
// Groups come with their members.
func (s *Store) QueryAfter(ctx context.Context, tenant string, kind Kind, f *filter.Filter, after int64, count int) (KeysetPage, error) {
	if err := checkResourceKey(tenant, kind, nil); err != nil {
		return KeysetPage{}, fmt.Errorf("query after: %w", err)
	}
	var page KeysetPage
	if count <= 0 {
		return page, nil
	}
	wantGroups := kind == KindUser && f != nil && strings.Contains(strings.ToLower(f.String()), "groups")
	// take keeps the matches of docs (in creation order, all after `after`)
	// and reports whether the page is full.
	take := func(docs []decodedDoc) (bool, error) {
		groups, err := s.groupsOfDocs(ctx, tenant, docs, wantGroups)
		if err != nil {
			return false, err
		}
		for _, d := range docs {
			if f != nil {
				v := d.r.View()
				if g := groups[d.r.ID]; len(g) > 0 {
					v["groups"] = groupsView(g)
				}
				if !f.Match(v) {
					continue
				}
			}
			if len(page.Resources) == count {
				page.More = true
				return true, nil
			}
			page.Resources = append(page.Resources, d.r)
			page.Seqs = append(page.Seqs, d.seq)
		}
		return false, nil
	}

	if f != nil {
		if lookups, ok := f.Plan(); ok {
			ids, ok, err := s.resolveLookups(ctx, tenant, kind, lookups)
			if err != nil {
				return KeysetPage{}, fmt.Errorf("query %s after: %w", kind, err)
			}
			if ok {
				docs, err := s.loadDocs(ctx, tenant, kind, ids, kind == KindGroup)
				if err != nil {
					return KeysetPage{}, fmt.Errorf("query %s after: %w", kind, err)
				}
				docs = slices.DeleteFunc(docs, func(d decodedDoc) bool { return d.seq <= after })
				slices.SortFunc(docs, func(a, b decodedDoc) int { return cmp.Compare(a.seq, b.seq) })
				if _, err := take(docs); err != nil {
					return KeysetPage{}, fmt.Errorf("query %s after: %w", kind, err)
				}
				return page, nil
			}
		}
	}

	// Read one more than asked, so a full page knows whether more follow.
	batch := int64(min(max(count+1, 16), scanBatch))
	from := "(" + strconv.FormatInt(after, 10)
	for {
		if err := ctx.Err(); err != nil {
			return KeysetPage{}, fmt.Errorf("query %s after: %w", kind, err)
		}
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, orderKey(tenant, kind),
			&redis.ZRangeBy{Min: from, Max: "+inf", Count: batch}).Result()
		if err != nil {
			return KeysetPage{}, fmt.Errorf("query %s after: read order: %w", kind, err)
		}
		if len(zs) == 0 {
			return page, nil
		}
		ids := make([]string, len(zs))
		for i, z := range zs {
			ids[i], _ = z.Member.(string)
		}
		docs, err := s.loadDocs(ctx, tenant, kind, ids, kind == KindGroup)
		if err != nil {
			return KeysetPage{}, fmt.Errorf("query %s after: %w", kind, err)
		}
		full, err := take(docs)
		if err != nil {
			return KeysetPage{}, fmt.Errorf("query %s after: %w", kind, err)
		}
		if full || int64(len(zs)) < batch {
			return page, nil
		}
		from = "(" + strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
	}
}
