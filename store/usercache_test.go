package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// peerStore opens a second Store on s's backend: another replica, with its
// own connections and its own cache.
func peerStore(t *testing.T, s *Store) *Store {
	t.Helper()
	c, ok := s.Client().(*redis.Client)
	if !ok {
		t.Fatalf("client %T: want *redis.Client", s.Client())
	}
	return openTestStore(t, "redis://"+c.Options().Addr)
}

func cacheTestUser(id, userName, title string) *Resource {
	return &Resource{ID: id, Kind: KindUser, Attrs: map[string]any{"userName": userName, "title": title}}
}

// A user written by this process is served from its cache; a write computed
// from it is refused once another replica changed the user, and nothing of
// the refused write is stored.
func TestReplaceUserFromRefusesUserChangedElsewhere(t *testing.T) {
	backends(t, func(t *testing.T, a *Store) {
		ctx := context.Background()
		b := peerStore(t, a)
		if err := a.Create(ctx, "t1", cacheTestUser("u1", "ann", "first")); err != nil {
			t.Fatal(err)
		}
		cur, cached, err := a.GetUserForUpdate(ctx, "t1", "u1")
		if err != nil || !cached || cur.Version != 1 || cur.Attrs["title"] != "first" {
			t.Fatalf("GetUserForUpdate after create = %+v, cached %v, %v; want version 1 from the cache", cur, cached, err)
		}

		// Another replica changes the user.
		if err := b.Replace(ctx, "t1", cacheTestUser("u1", "ann", "second"), 0); err != nil {
			t.Fatal(err)
		}
		stale, cached, err := a.GetUserForUpdate(ctx, "t1", "u1")
		if err != nil || !cached || stale.Version != 1 {
			t.Fatalf("GetUserForUpdate = %+v, cached %v, %v; want the stale entry (version 1)", stale, cached, err)
		}
		next := cacheTestUser("u1", "ann", "from-stale")
		if _, err := a.ReplaceUserFrom(ctx, "t1", next, stale); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("ReplaceUserFrom on a stale base = %v, want ErrPrecondition", err)
		}
		got, err := b.Get(ctx, "t1", KindUser, "u1")
		if err != nil || got.Version != 2 || got.Attrs["title"] != "second" {
			t.Fatalf("stored = %+v, %v; want version 2 titled second", got, err)
		}

		// A fresh read refreshes the entry; a write from it succeeds.
		fresh, err := a.Get(ctx, "t1", KindUser, "u1")
		if err != nil || fresh.Version != 2 {
			t.Fatalf("Get = %+v, %v", fresh, err)
		}
		cur, cached, err = a.GetUserForUpdate(ctx, "t1", "u1")
		if err != nil || !cached || cur.Version != 2 || cur.Attrs["title"] != "second" {
			t.Fatalf("GetUserForUpdate after Get = %+v, cached %v, %v", cur, cached, err)
		}
		if _, err := a.ReplaceUserFrom(ctx, "t1", cacheTestUser("u1", "ann", "third"), cur); err != nil {
			t.Fatalf("ReplaceUserFrom on the current base: %v", err)
		}
		if got, _ := b.Get(ctx, "t1", KindUser, "u1"); got.Version != 3 || got.Attrs["title"] != "third" {
			t.Fatalf("stored = %+v, want version 3 titled third", got)
		}
	})
}

// The same version is not enough: a user recreated with the same id (a
// restored backup, a lost write) has its version again but not its
// lastModified, and the write is refused.
func TestReplaceUserFromChecksLastModified(t *testing.T) {
	backends(t, func(t *testing.T, a *Store) {
		ctx := context.Background()
		b := peerStore(t, a)
		u := cacheTestUser("u1", "ann", "first")
		u.Created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := a.Create(ctx, "t1", u); err != nil {
			t.Fatal(err)
		}
		base, cached, err := a.GetUserForUpdate(ctx, "t1", "u1")
		if err != nil || !cached {
			t.Fatalf("GetUserForUpdate = %v, cached %v", err, cached)
		}
		if err := b.Delete(ctx, "t1", KindUser, "u1", 0); err != nil {
			t.Fatal(err)
		}
		again := cacheTestUser("u1", "ann", "recreated")
		again.Created = u.Created.Add(time.Second)
		if err := b.Create(ctx, "t1", again); err != nil || again.Version != base.Version {
			t.Fatalf("recreate: %v, version %d (want %d)", err, again.Version, base.Version)
		}
		if _, err := a.ReplaceUserFrom(ctx, "t1", cacheTestUser("u1", "ann", "lost"), base); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("ReplaceUserFrom with the same version, other lastModified = %v, want ErrPrecondition", err)
		}
		if got, _ := b.Get(ctx, "t1", KindUser, "u1"); got.Attrs["title"] != "recreated" {
			t.Fatalf("stored title %v, want recreated", got.Attrs["title"])
		}

		// Deleted elsewhere: not found, nothing written.
		if err := b.Delete(ctx, "t1", KindUser, "u1", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := a.ReplaceUserFrom(ctx, "t1", cacheTestUser("u1", "ann", "ghost"), base); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ReplaceUserFrom on a deleted user = %v, want ErrNotFound", err)
		}
		if _, err := b.Get(ctx, "t1", KindUser, "u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after refused write = %v, want ErrNotFound", err)
		}
	})
}

// Deleting through this store forgets the user; tenants do not share entries.
func TestUserCacheForgetsDeletedUsersAndKeepsTenantsApart(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.Create(ctx, "t1", cacheTestUser("u1", "ann", "first")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.GetUserForUpdate(ctx, "t2", "u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other tenant: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "t1", KindUser, "u1", 0); err != nil {
			t.Fatal(err)
		}
		if r, cached, err := s.GetUserForUpdate(ctx, "t1", "u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %+v, cached %v, %v; want ErrNotFound", r, cached, err)
		}
	})
}

func TestUserCacheBoundAndOrder(t *testing.T) {
	c := newUserCache(2, 1<<20)
	c.put("t", "a", cachedUser{version: 1, attrs: "{}"})
	c.put("t", "b", cachedUser{version: 1, attrs: "{}"})
	c.put("t", "a", cachedUser{version: 3, attrs: `{"x":3}`})
	c.put("t", "a", cachedUser{version: 2, attrs: `{"x":2}`}) // an older read arriving late
	if u, ok := c.get("t", "a"); !ok || u.version != 3 {
		t.Fatalf("a = %+v, %v; want version 3 kept", u, ok)
	}
	c.put("t", "c", cachedUser{version: 1, attrs: "{}"}) // the oldest entry (a) leaves
	if _, ok := c.get("t", "a"); ok {
		t.Fatal("a still cached past the bound")
	}
	for _, id := range []string{"b", "c"} {
		if _, ok := c.get("t", id); !ok {
			t.Fatalf("%s not cached", id)
		}
	}
	if len(c.m) != 2 {
		t.Fatalf("%d entries, want 2", len(c.m))
	}
}

// The cache is bounded in bytes too: a huge user is not kept (nor left
// stale), and the oldest users leave when the attributes exceed the budget.
func TestUserCacheByteBudget(t *testing.T) {
	big := strings.Repeat("x", userCacheMaxEntry)
	c := newUserCache(100, 10_000)
	c.put("t", "huge", cachedUser{version: 1, attrs: "{}"})
	c.put("t", "huge", cachedUser{version: 2, attrs: big})
	if _, ok := c.get("t", "huge"); ok {
		t.Fatal("a user over userCacheMaxEntry is cached (or its older copy kept)")
	}
	kb := strings.Repeat("y", 3000)
	for _, id := range []string{"a", "b", "c", "d"} {
		c.put("t", id, cachedUser{version: 1, attrs: kb})
	}
	if _, ok := c.get("t", "a"); ok {
		t.Fatal("the oldest user kept past the byte budget")
	}
	for _, id := range []string{"b", "c", "d"} {
		if _, ok := c.get("t", id); !ok {
			t.Fatalf("%s not cached", id)
		}
	}
	if c.bytes > c.maxBytes {
		t.Fatalf("%d bytes cached, budget %d", c.bytes, c.maxBytes)
	}
	// Growing an entry in place also respects the budget.
	c.put("t", "d", cachedUser{version: 2, attrs: kb + kb})
	if c.bytes > c.maxBytes {
		t.Fatalf("%d bytes cached after growing an entry, budget %d", c.bytes, c.maxBytes)
	}
	if u, ok := c.get("t", "d"); !ok || u.version != 2 {
		t.Fatalf("d = %+v, %v; want version 2 kept", u, ok)
	}
	// A dropped user comes back in a new slot without breaking the count.
	c.drop("t", "c")
	c.put("t", "c", cachedUser{version: 3, attrs: "{}"})
	sum := 0
	for k, u := range c.m {
		sum += u.size(k)
	}
	if sum != c.bytes {
		t.Fatalf("bytes %d, entries hold %d", c.bytes, sum)
	}
}
