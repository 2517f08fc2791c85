package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

func TestConntest(t *testing.T) {
	t.Parallel()
	conntest.Run(t, conntest.Harness{
		Open: func(t *testing.T, u, token, _ string, deps connectors.Deps) connectors.Connector {
			cfg := &scim.Config{Base: connectors.Base{Name: "odm", URL: u + "/api/v1/scim", Token: token}}
			c, err := cfg.Open(context.Background(), deps)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Subject: userSubject(alice),
		Fake: func(t *testing.T) http.Handler {
			return fake.New(fake.Options{Token: conntest.Token}).Handler()
		},
	})
}

func TestRequestHeadersAndRoutes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []*http.Request
	srv := fake.New(fake.Options{Token: testToken})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(context.Background()))
		mu.Unlock()
		srv.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()
	cfg := &scim.Config{Base: connectors.Base{Name: "odm", URL: ts.URL + "/api/v1/scim/", Token: testToken}}
	c, err := cfg.Open(context.Background(), connectors.Deps{Client: ts.Client(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	weird := with(alice, func(u *connectors.User) { u.UserName = `a "b" \c & d+e` })
	if _, _, err := c.Converge(context.Background(), userSubject(weird), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("%d requests, want the lookups by userName and login, and the POST", len(seen))
	}
	for _, r := range seen {
		if got := r.Header.Get("Authorization"); got != "bearer "+testToken {
			t.Fatalf("Authorization %q", got)
		}
		if !strings.Contains(r.Header.Get("Accept"), "application/scim+json") {
			t.Fatalf("Accept %q", r.Header.Get("Accept"))
		}
	}
	get := seen[0]
	if get.Method != http.MethodGet || get.URL.Path != "/api/v1/scim/Users" {
		t.Fatalf("lookup %s %s", get.Method, get.URL.Path)
	}
	q, err := url.ParseQuery(get.URL.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if want := `userName eq "a \"b\" \\c & d+e"`; q.Get("filter") != want {
		t.Fatalf("filter %q, want %q", q.Get("filter"), want)
	}
	if strings.Contains(get.URL.RawQuery, "+") {
		t.Fatalf("spaces sent as '+': %s", get.URL.RawQuery)
	}
	login := seen[1]
	if q, err := url.ParseQuery(login.URL.RawQuery); err != nil || login.Method != http.MethodGet ||
		q.Get("filter") != `emails[type eq "work" and value eq "alice@example.com"]` {
		t.Fatalf("login lookup %s %s (%v)", login.Method, login.URL, err)
	}
	if post := seen[2]; post.Method != http.MethodPost || post.URL.Path != "/api/v1/scim/Users" || post.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("create %s %s %q", post.Method, post.URL.Path, post.Header.Get("Content-Type"))
	}
}

func TestInventory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		st       setup
		wantGets int
	}{
		{"hidden inactive, default pages", setup{}, 3},
		{"shown inactive, default pages", setup{showInactive: true}, 3},
		{"server caps pages at 7", setup{maxPageSize: 7}, 36},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.st)
			want := map[string]fake.User{}
			for i := range 250 {
				u := h.srv.Seed(fake.User{UserName: fmt.Sprintf("user%03d", i), ExternalID: fmt.Sprintf("ext%d", i), Email: fmt.Sprintf("u%d@x.io", i), Active: true})
				want[u.ID] = u
			}
			for i := range 5 {
				h.srv.Seed(fake.User{UserName: fmt.Sprintf("gone%d", i), Active: false})
			}
			got := map[string]connectors.Observed{}
			err := h.c.(connectors.Inventory).Inventory(context.Background(), func(o connectors.Observed) error {
				if _, dup := got[o.ObjectID]; dup {
					return fmt.Errorf("%s observed twice", o.ObjectID)
				}
				got[o.ObjectID] = o
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 250 {
				t.Fatalf("observed %d users, want 250", len(got))
			}
			for id, o := range got {
				u := want[id]
				if o.UserName != u.UserName || o.ExternalID != u.ExternalID || o.Email != u.Email || o.Managed || o.Subject != nil {
					t.Fatalf("observed %+v for %+v", o, u)
				}
			}
			if n := len(h.srv.Requests()); n != tc.wantGets {
				t.Fatalf("%d list requests, want %d", n, tc.wantGets)
			}
		})
	}
	t.Run("callback error stops", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{})
		for i := range 150 {
			h.srv.Seed(fake.User{UserName: fmt.Sprint("u", i), Active: true})
		}
		stop := errors.New("stop")
		if err := h.c.(connectors.Inventory).Inventory(context.Background(), func(connectors.Observed) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("err %v", err)
		}
		if n := len(h.srv.Requests()); n != 1 {
			t.Fatalf("%d requests after the callback failed", n)
		}
	})
	t.Run("5xx is retryable", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, setup{})
		h.srv.FailNext(1, 502)
		err := h.c.(connectors.Inventory).Inventory(context.Background(), func(connectors.Observed) error { return nil })
		if connectors.ClassOf(err) != connectors.Retryable {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("server ignoring startIndex", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/scim+json")
			fmt.Fprint(w, `{"totalResults":300,"startIndex":1,"itemsPerPage":1,"Resources":[{"id":"1","userName":"a"}]}`)
		}))
		defer ts.Close()
		cfg := &scim.Config{Base: connectors.Base{Name: "odm", URL: ts.URL, Token: testToken}}
		c, err := cfg.Open(context.Background(), connectors.Deps{Client: ts.Client(), Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = c.(connectors.Inventory).Inventory(context.Background(), func(connectors.Observed) error { n++; return nil })
		if connectors.ClassOf(err) != connectors.Permanent || n != 1 {
			t.Fatalf("err %v after %d users", err, n)
		}
	})
}

func TestPrune(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		prune  bool
		shown  bool
		seed   *fake.User // nil: the orphan is gone
		dry    bool
		writes int
		acts   []string
	}{
		{"active orphan deactivated", true, false, &fake.User{UserName: "orphan", Active: true}, false, 1, []string{"delete"}},
		{"dry run", true, false, &fake.User{UserName: "orphan", Active: true}, true, 0, []string{"delete"}},
		{"already inactive (hidden)", true, false, &fake.User{UserName: "orphan"}, false, 0, []string{}},
		{"already inactive (shown)", true, true, &fake.User{UserName: "orphan"}, false, 0, []string{}},
		{"gone", true, false, nil, false, 0, []string{}},
		{"prune off", false, false, &fake.User{UserName: "orphan", Active: true}, false, 0, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{prune: tc.prune, showInactive: tc.shown})
			o := connectors.Observed{UserName: "orphan", ObjectID: "5555"}
			if tc.seed != nil {
				o.ObjectID = h.srv.Seed(*tc.seed).ID
			}
			acts, err := h.c.(connectors.Pruner).Prune(context.Background(), o, connectors.Options{DryRun: tc.dry})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ops(acts), tc.acts) || h.srv.Writes() != tc.writes || h.srv.DuplicateWrites() != 0 {
				t.Fatalf("actions %v writes %d dup %d", acts, h.srv.Writes(), h.srv.DuplicateWrites())
			}
			if tc.writes == 1 {
				if u, _ := h.srv.User(o.ObjectID); u.Active {
					t.Fatal("orphan still active")
				}
			}
			if !tc.prune && len(h.srv.Requests()) != 0 {
				t.Fatal("prune off made requests")
			}
		})
	}
}

func TestProject(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	p := h.c.(connectors.Projector)
	a := p.Project(userSubject(alice))
	b := p.Project(userSubject(with(alice, func(u *connectors.User) {
		u.Emails = []string{alice.Email, "other@x.io"}
		u.Groups = []string{"g"}
		u.GivenName = "A"
	})))
	if a != b {
		t.Fatalf("projection depends on attributes the adapter neither converges nor sends: %v vs %v", a, b)
	}
	// The work email a POST sends is in it (a create refused for want of the
	// right email is tried again when it changes).
	for _, change := range []func(*connectors.User){
		func(u *connectors.User) { u.UserName = "x" },
		func(u *connectors.User) { u.ExternalID = "x" },
		func(u *connectors.User) { u.DisplayName = "x" },
		func(u *connectors.User) { u.Active = false },
		func(u *connectors.User) { u.Email = "other@x.io" },
		func(u *connectors.User) { u.Email = "" },
	} {
		if p.Project(userSubject(with(alice, change))) == a {
			t.Fatal("projection misses a converged attribute")
		}
	}
	if p.Project(deletedSubject("scim-1")) != nil {
		t.Fatal("deleted user projects to non-nil")
	}
	if !h.c.Handles(connectors.SubjectUser) || h.c.Handles(connectors.SubjectTenant) || h.c.Handles(connectors.SubjectObject) {
		t.Fatal("Handles")
	}
	if h.c.Name() != "odm" {
		t.Fatalf("Name %q", h.c.Name())
	}
	_, _, err := h.c.Converge(context.Background(), connectors.Subject{Kind: connectors.SubjectTenant, ID: "acme"}, connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Permanent {
		t.Fatalf("tenant subject: %v", err)
	}
}

func fieldKeys(err error) []string {
	var keys []string
	var walk func(error)
	walk = func(e error) {
		var fe *connectors.FieldError
		if errors.As(e, &fe) && fe == e {
			keys = append(keys, fe.Key)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	slices.Sort(keys)
	return keys
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := func() scim.Config {
		return scim.Config{Base: connectors.Base{Name: "odm", Type: "scim", URL: "http://127.0.0.1:9004/api/v1/scim", Token: "t"}}
	}
	cases := []struct {
		name string
		mut  func(*scim.Config)
		keys []string
	}{
		{"valid", func(*scim.Config) {}, nil},
		{"valid externalId", func(c *scim.Config) { c.MatchBy = "externalId" }, nil},
		{"match_by any case", func(c *scim.Config) { c.MatchBy = "USERNAME" }, nil},
		{"empty", func(c *scim.Config) { *c = scim.Config{} }, []string{"name", "token", "url"}},
		{"bad url", func(c *scim.Config) { c.URL = "ftp://x" }, []string{"url"}},
		{"relative url", func(c *scim.Config) { c.URL = "/api/v1/scim" }, []string{"url"}},
		{"url with query", func(c *scim.Config) { c.URL = "http://x/scim?a=1" }, []string{"url"}},
		{"wrong type", func(c *scim.Config) { c.Type = "bimdata" }, []string{"type"}},
		{"bad match_by", func(c *scim.Config) { c.MatchBy = "email" }, []string{"match_by"}},
		{"bad timeout", func(c *scim.Config) { c.Timeout = "soon" }, []string{"timeout"}},
		{"negative limits", func(c *scim.Config) { c.RateLimit = -1; c.Burst = -1 }, []string{"burst", "rate_limit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ok()
			tc.mut(&c)
			err := c.Validate()
			if got := fieldKeys(err); !slices.Equal(got, tc.keys) {
				t.Fatalf("keys %v, want %v (err: %v)", got, tc.keys, err)
			}
			_, oerr := c.Open(context.Background(), connectors.Deps{Logger: zerolog.Nop()})
			if (oerr == nil) != (tc.keys == nil) {
				t.Fatalf("Open error %v", oerr)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	src := `
name: odm
type: scim
url: http://127.0.0.1:9004/api/v1/scim
token: secret-token
match_by: externalId
prune: true
timeout: 5s
`
	var c scim.Config
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if c.Name != "odm" || c.URL != "http://127.0.0.1:9004/api/v1/scim" || c.Token != "secret-token" || c.MatchBy != "externalId" || !c.Prune || c.Timeout != "5s" {
		t.Fatalf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
