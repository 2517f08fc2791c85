//go:build chaos

package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authressfake "github.com/scim-bridge/scim-bridge/connectors/authress/fake"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	bimplusfake "github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
	scimfake "github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

const (
	downToken   = "chaos-downstream-token-0123456789"
	scimToken   = "chaos-scim-token-0123456789abcdef"
	adminToken  = "chaos-admin-token-0123456789abcdef"
	project     = "b8615afc-99cc-4bcd-b0ca-ff0593ce15c6"
	groupName   = "Design Team"
	editorRole  = "Project_Editor"
	failPercent = 10 // downstream 500s
	rateLimitPm = 10 // downstream 429s per thousand (CHAOS_429_PM overrides)
)

// downstream is the four fake APIs, in this process, each behind a fault
// injector answering 10% 500s and 1% 429s (with Retry-After: 1) before the
// fake sees the request.
type downstream struct {
	bimdata  *bimdatafake.Server
	bimplus  *bimplusfake.Server
	authress *authressfake.Server
	odm      *scimfake.Server
	urls     map[string]string
	injected atomic.Int64
	trace    *trace
	// limitPm is the 429s per thousand requests.
	limitPm int

	mu      sync.Mutex
	creates []bimdataCreate // every create_user the BIMData fake answered
}

// bimdataCreate is one create_user answered by the BIMData fake.
type bimdataCreate struct {
	email  string
	status int
	at     time.Time // when the fake answered
}

func startDownstream(t *testing.T) *downstream {
	t.Helper()
	d := &downstream{
		bimdata:  bimdatafake.New(bimdatafake.Options{Token: downToken}),
		bimplus:  bimplusfake.New(bimplusfake.Options{Token: downToken, Team: "acme"}),
		authress: authressfake.New(authressfake.Options{Token: downToken}),
		odm:      scimfake.New(scimfake.Options{Token: downToken}),
		urls:     map[string]string{},
		trace:    newTrace(),
		limitPm:  rateLimitPm,
	}
	if v := os.Getenv("CHAOS_429_PM"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000-failPercent*10 {
			t.Fatalf("CHAOS_429_PM=%q: want 429s per thousand requests, 0 to %d", v, 1000-failPercent*10)
		}
		d.limitPm = n
	}
	d.bimplus.AddProject(project)
	for name, h := range map[string]http.Handler{
		"bimdata": d.bimdata.Handler(), "bimplus": d.bimplus.Handler(),
		"authress": d.authress.Handler(), "odm": d.odm.Handler(),
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if name == "bimdata" {
			h = d.logCreates(h)
		}
		srv := &http.Server{Handler: d.faulty(name, h), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		d.urls[name] = "http://" + ln.Addr().String()
	}
	return d
}

func (d *downstream) faulty(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := rand.N(1000); {
		case n < failPercent*10:
			d.trace.request(name, http.StatusInternalServerError)
			d.injected.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"detail":"injected failure"}`))
			return
		case n < failPercent*10+d.limitPm:
			d.trace.request(name, http.StatusTooManyRequests)
			d.injected.Add(1)
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"detail":"injected throttling"}`))
			return
		}
		d.trace.request(name, 0)
		next.ServeHTTP(w, r)
	})
}

// duplicates is the sum of the writes the fakes count as duplicates (a
// client that knew the state would not have sent them).
func (d *downstream) duplicates() map[string]int {
	return map[string]int{
		"bimdata": d.bimdata.DuplicateWrites(), "bimplus": d.bimplus.DuplicateWrites(),
		"authress": d.authress.DuplicateWrites(), "odm": d.odm.DuplicateWrites(),
	}
}

// writeConfig writes the bridge configuration of the run and returns its path.
func writeConfig(t *testing.T, d *downstream, redisURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
redis: %q
admin_token: %q
workers: 32
log: {level: warn, format: json}
tenants:
  - id: acme
    scim_tokens: [%q]
    reconcile_every: 24h
    connectors:
      - {name: bimdata, type: bimdata, url: %q, token: %q, rate_limit: 500, burst: 100}
      - name: bimplus
        type: bimplus
        url: %q
        team: acme
        token: %q
        rate_limit: 500
        burst: 100
        groups:
          %q: [{project: %s, role: %s}]
      - name: authress
        type: authress
        url: %q
        token: %q
        connection:
          type: oauth2
          authenticationUrl: https://acme.okta.com/oauth2/v1/authorize
          tokenUrl: https://acme.okta.com/oauth2/v1/token
          clientId: chaos
          clientSecret: chaos-client-secret-0123456789
      - {name: odm, type: scim, url: %q, token: %q, rate_limit: 500, burst: 100}
`, redisURL, adminToken, scimToken,
		d.urls["bimdata"], downToken,
		d.urls["bimplus"]+"/v2", downToken, groupName, project, editorRole,
		d.urls["authress"], downToken,
		d.urls["odm"]+scimfake.DefaultBasePath, downToken)
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// logCreates records when the BIMData fake answered each create_user.
func (d *downstream) logCreates(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/identity-provider/user" {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			Email string `json:"email"`
		}
		_ = json.Unmarshal(body, &req)
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		d.mu.Lock()
		d.creates = append(d.creates, bimdataCreate{email: strings.ToLower(req.Email), status: rec.status, at: time.Now()})
		d.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// inFlightWindow is how close to a kill -9 the first create of a duplicated
// user must have been answered for the duplicate to count as the one call in
// flight at the kill: the call was still running, or its answer arrived and
// the record (written as soon as it answers) had not landed yet.
const inFlightWindow = time.Second

// explainDuplicates splits BIMData's duplicate creates into those whose first
// create was answered within inFlightWindow of a kill -9 and the others.
func (d *downstream) explainDuplicates(kills []time.Time) (atKill, unexplained int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	first := map[string]time.Time{}
	for _, c := range d.creates {
		if c.status == http.StatusCreated {
			if _, ok := first[c.email]; !ok {
				first[c.email] = c.at
			}
			continue
		}
		if c.status != http.StatusOK {
			continue
		}
		t0, ok := first[c.email]
		explained := false
		for _, k := range kills {
			if ok && t0.After(k.Add(-inFlightWindow)) && t0.Before(k.Add(inFlightWindow)) {
				explained = true
			}
		}
		if explained {
			atKill++
		} else {
			unexplained++
		}
	}
	return atKill, unexplained
}

// duplicateCreates counts the downstream creates of an object that already
// existed: BIMData's create_user answered 200 (its fake counts those among
// DuplicateWrites, with no-op deletes and answers); the other APIs refuse a
// second create (409 on userName, a connection marker, a membership), so a
// duplicate create cannot happen there.
func (d *downstream) duplicateCreates() map[string]int {
	n := 0
	for _, r := range d.bimdata.Requests() {
		if r.Method == http.MethodPost && r.Path == "/identity-provider/user" && r.Status == http.StatusOK {
			n++
		}
	}
	return map[string]int{"bimdata": n}
}
