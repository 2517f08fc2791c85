package bridge

// Shared fixture of the fan-out tests: the four downstream fakes (BIMData,
// Bimplus, Authress and an ODM-like SCIM app) on httptest servers, the four
// adapters opened on them exactly as the binary opens them (Config{...}.Open with
// connectors.Deps), a bridge wired to them, and a fault injector in front of
// each fake.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/metrics"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	authressfake "github.com/scim-bridge/scim-bridge/connectors/authress/fake"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus"
	bimplusfake "github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
	scimconn "github.com/scim-bridge/scim-bridge/connectors/scim"
	scimfake "github.com/scim-bridge/scim-bridge/connectors/scim/fake"
	"github.com/scim-bridge/scim-bridge/store"
)

// Names, credentials and mappings of the downstream fixture.
const (
	connBIMData  = "bimdata"
	connBimplus  = "bimplus"
	connAuthress = "authress"
	connODM      = "odm"

	fakeBIMDataToken  = "bimdata-fake-token-0123456789"
	fakeBimplusToken  = "bimplus-fake-token-0123456789"
	fakeAuthressToken = "sc_authress-fake-token-0123456789"
	fakeODMToken      = "odm-fake-token-0123456789"
	fakeOktaSecret    = "okta-client-secret-0123456789"

	bimplusTeam = "acme"
	projectP1   = "b8615afc-99cc-4bcd-b0ca-ff0593ce15c6"
	projectP2   = "0d3c2f4e-6a1b-4c55-9e77-1f2a3b4c5d6e"

	groupDesign = "Design Team"
	groupAdmins = "Admins"

	ssoAuthURL  = "https://acme.okta.example/oauth2/v1/authorize"
	ssoTokenURL = "https://acme.okta.example/oauth2/v1/token"
	ssoClientID = "acme-bridge-client"

	// fanRateLimit lifts the adapters' default rate limit (50 requests/s per
	// connector) so the tests measure the bridge, not the limiter.
	fanRateLimit = 100000
	fanBurst     = 10000
)

// allConnectors are the four connectors of the fixture, in a fixed order.
var allConnectors = []string{connBIMData, connBimplus, connAuthress, connODM}

// downstream is the four fakes, each served behind its own fault injector.
type downstream struct {
	bimdata  *bimdatafake.Server
	bimplus  *bimplusfake.Server
	authress *authressfake.Server
	odm      *scimfake.Server

	faults map[string]*injector // by connector name
	urls   map[string]string    // configured url per connector name
	// groups maps SCIM group displayNames to Bimplus project roles.
	groups map[string][]bimplus.Grant
	// unpaced opens the adapters without a fixed rate: their throttles learn
	// each API's limit, as with no rate configured.
	unpaced bool
}

// startDownstream starts the four fakes on 127.0.0.1 for the lifetime of tb.
// Bimplus knows the default roles, the "Design Team" → P1 Project_Editor and
// "Admins" → P1 Project_Admin mappings and projects P1 and P2.
func startDownstream(tb testing.TB) *downstream {
	tb.Helper()
	d := &downstream{
		bimdata:  bimdatafake.New(bimdatafake.Options{Token: fakeBIMDataToken}),
		bimplus:  bimplusfake.New(bimplusfake.Options{Token: fakeBimplusToken, Team: bimplusTeam}),
		authress: authressfake.New(authressfake.Options{Token: fakeAuthressToken}),
		odm:      scimfake.New(scimfake.Options{Token: fakeODMToken}),
		faults:   map[string]*injector{},
		urls:     map[string]string{},
		groups: map[string][]bimplus.Grant{
			groupDesign: {{Project: projectP1, Role: "Project_Editor"}},
			groupAdmins: {{Project: projectP1, Role: "Project_Admin"}},
		},
	}
	d.bimplus.AddProject(projectP1)
	d.bimplus.AddProject(projectP2)
	serve := func(name string, h http.Handler, path string) {
		in := &injector{}
		d.faults[name] = in
		srv := httptest.NewServer(in.wrap(h))
		tb.Cleanup(srv.Close)
		d.urls[name] = srv.URL + path
	}
	serve(connBIMData, d.bimdata.Handler(), "")
	serve(connBimplus, d.bimplus.Handler(), "/v2")
	serve(connAuthress, d.authress.Handler(), "")
	serve(connODM, d.odm.Handler(), scimfake.DefaultBasePath)
	return d
}

// addGroupMapping maps one more SCIM group to Bimplus project roles (before the
// adapters are opened).
func (d *downstream) addGroupMapping(group string, grants ...bimplus.Grant) {
	d.groups[group] = grants
}

// ssoSpec is the Authress connection the tenant must have.
func ssoSpec() authress.ConnectionSpec {
	return authress.ConnectionSpec{
		Type:              "oauth2",
		AuthenticationURL: ssoAuthURL,
		TokenURL:          ssoTokenURL,
		ClientID:          ssoClientID,
		ClientSecret:      fakeOktaSecret,
		Data:              authress.DataSpec{Name: "Acme Okta"},
	}
}

// configs returns the adapter configurations of the named connectors, as the
// YAML configuration would decode them.
func (d *downstream) configs(names ...string) []connectors.Config {
	base := func(name, typ, token string) connectors.Base {
		if d.unpaced {
			return connectors.Base{Name: name, Type: typ, URL: d.urls[name], Token: token}
		}
		return connectors.Base{Name: name, Type: typ, URL: d.urls[name], Token: token, RateLimit: fanRateLimit, Burst: fanBurst}
	}
	var out []connectors.Config
	for _, n := range names {
		switch n {
		case connBIMData:
			out = append(out, &bimdata.Config{Base: base(n, bimdata.Type, fakeBIMDataToken)})
		case connBimplus:
			out = append(out, &bimplus.Config{Base: base(n, "bimplus", fakeBimplusToken), Team: bimplusTeam, Groups: d.groups})
		case connAuthress:
			out = append(out, &authress.Config{Base: base(n, authress.Type, fakeAuthressToken), Connection: ssoSpec()})
		case connODM:
			out = append(out, &scimconn.Config{Base: base(n, scimconn.Type, fakeODMToken)})
		default:
			panic("unknown connector " + n)
		}
	}
	return out
}

// open opens fresh adapters (as a new process would) for tenant on st.
func (d *downstream) open(tb testing.TB, st *store.Store, tenantID string, names ...string) []connectors.Connector {
	tb.Helper()
	return d.openObserved(tb, st, tenantID, nil, names...)
}

// openObserved is open with the adapters' HTTP requests recorded in m (when
// not nil), as the binary wires them.
func (d *downstream) openObserved(tb testing.TB, st *store.Store, tenantID string, m *metrics.Metrics, names ...string) []connectors.Connector {
	tb.Helper()
	out, _ := d.openThrottled(tb, st, tenantID, m, names...)
	return out
}

// openThrottled is openObserved that also returns the adapters' throttles,
// whose holds every bridge on st shares, by connector name.
func (d *downstream) openThrottled(tb testing.TB, st *store.Store, tenantID string, m *metrics.Metrics, names ...string) ([]connectors.Connector, map[string]connectors.ThrottleReporter) {
	tb.Helper()
	var out []connectors.Connector
	throttles := map[string]connectors.ThrottleReporter{}
	for _, cfg := range d.configs(names...) {
		base := cfg.(connectors.CommonConfig).Common()
		th := NewThrottle(st, tenantID, base)
		throttles[base.Name] = th
		deps := connectors.Deps{
			Tenant:    tenantID,
			Directory: NewDirectory(st, tenantID),
			Logger:    zerolog.Nop(),
			Throttle:  th,
		}
		if m != nil {
			deps.ObserveHTTP = m.Downstream(base.Name)
		}
		c, err := cfg.Open(context.Background(), deps)
		if err != nil {
			tb.Fatalf("open connector: %v", err)
		}
		out = append(out, c)
	}
	return out, throttles
}

// duplicates returns the DuplicateWrites of every fake, by connector name.
func (d *downstream) duplicates() map[string]int {
	return map[string]int{
		connBIMData:  d.bimdata.DuplicateWrites(),
		connBimplus:  d.bimplus.DuplicateWrites(),
		connAuthress: d.authress.DuplicateWrites(),
		connODM:      d.odm.DuplicateWrites(),
	}
}

// requests returns the number of requests each fake served (injected faults,
// answered in front of the fakes, are not counted).
func (d *downstream) requests() map[string]int {
	return map[string]int{
		connBIMData:  len(d.bimdata.Requests()),
		connBimplus:  len(d.bimplus.Requests()),
		connAuthress: len(d.authress.Requests()),
		connODM:      len(d.odm.Requests()),
	}
}

// expectNoDuplicates fails tb when a fake counted a write a client that knew the
// state would never make; want overrides the expected count per connector.
func (d *downstream) expectNoDuplicates(tb testing.TB, want map[string]int) {
	tb.Helper()
	for name, got := range d.duplicates() {
		if got != want[name] {
			tb.Errorf("%s: DuplicateWrites() = %d, want %d", name, got, want[name])
		}
	}
}

// memberOf returns the Bimplus team member id of email, adding it to the team
// the first time.
func (d *downstream) memberOf(email string) string {
	for _, m := range d.teamMembers() {
		if strings.EqualFold(m.Email, email) {
			return m.ID
		}
	}
	return d.bimplus.AddTeamMember(email)
}

// teamMembers lists the Bimplus team through its own route (the fake exposes no
// accessor for it).
func (d *downstream) teamMembers() []bimplusfake.TeamMember {
	req := httptest.NewRequest(http.MethodGet, "/v2/"+bimplusTeam+"/members", nil)
	req.Header.Set("Authorization", "BimPlus "+fakeBimplusToken)
	rec := httptest.NewRecorder()
	d.bimplus.Handler().ServeHTTP(rec, req)
	var out []bimplusfake.TeamMember
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}

// bimplusRole returns the role name email has on project ("" when not a member).
func (d *downstream) bimplusRole(project, email string) string {
	for _, m := range d.bimplus.Memberships(project) {
		if strings.EqualFold(m.Member.Email, email) {
			return m.Role.Name
		}
	}
	return ""
}

// ssoConnections returns the Authress connections matching the configured spec.
func (d *downstream) ssoConnections() []authressfake.Connection {
	var out []authressfake.Connection
	for _, c := range d.authress.Connections() {
		if c.AuthenticationURL == ssoAuthURL && c.TokenURL == ssoTokenURL && c.ClientID == ssoClientID {
			out = append(out, c)
		}
	}
	return out
}

// faultPlan describes the faults an injector adds in front of a fake.
type faultPlan struct {
	// ErrRate is the share of requests answered 503 without reaching the fake.
	ErrRate float64
	// BurstRate is the chance, per request, that a burst of BurstLen 429 answers
	// (Retry-After: 1) starts; at most MaxBursts bursts happen.
	BurstRate float64
	BurstLen  int
	MaxBursts int
	// MinLatency..MaxLatency is added to every request (uniformly drawn).
	MinLatency, MaxLatency time.Duration
	Seed                   uint64
}

// injector answers injected faults in front of a fake, before the fake sees the
// request (so its state and counters are untouched), and can reject chosen
// requests with a permanent 400.
type injector struct {
	mu        sync.Mutex
	plan      faultPlan
	rng       *rand.Rand
	burstLeft int
	bursts    int
	injected  map[int]int // status → count
	reject    func(r *http.Request, body []byte) bool
	// seen, when set, is told when each request that reaches the fake arrived
	// and the status it was answered.
	seen func(arrived time.Time, status int)
}

// watch sets seen.
func (in *injector) watch(fn func(arrived time.Time, status int)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seen = fn
}

// set replaces the fault plan.
func (in *injector) set(p faultPlan) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.plan = p
	in.rng = rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	in.burstLeft, in.bursts = 0, 0
}

// setReject installs (nil removes) a predicate whose requests answer 400.
func (in *injector) setReject(fn func(r *http.Request, body []byte) bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.reject = fn
}

// count returns how many answers of status were injected.
func (in *injector) count(status int) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.injected[status]
}

// decide draws the fate of one request: added latency and an injected status (0: none).
func (in *injector) decide() (time.Duration, int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	p := in.plan
	if in.rng == nil {
		return 0, 0
	}
	var lat time.Duration
	if p.MaxLatency > 0 {
		lat = p.MinLatency + time.Duration(in.rng.Int64N(int64(p.MaxLatency-p.MinLatency)+1))
	}
	status := 0
	switch {
	case in.burstLeft > 0:
		in.burstLeft--
		status = http.StatusTooManyRequests
	case in.bursts < p.MaxBursts && in.rng.Float64() < p.BurstRate:
		in.bursts++
		in.burstLeft = p.BurstLen - 1
		status = http.StatusTooManyRequests
	case in.rng.Float64() < p.ErrRate:
		status = http.StatusServiceUnavailable
	}
	if status != 0 {
		if in.injected == nil {
			in.injected = map[int]int{}
		}
		in.injected[status]++
	}
	return lat, status
}

func (in *injector) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lat, status := in.decide()
		if lat > 0 {
			t := time.NewTimer(lat)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		in.mu.Lock()
		reject := in.reject
		in.mu.Unlock()
		if reject != nil && status == 0 {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if reject(r, body) {
				in.mu.Lock()
				if in.injected == nil {
					in.injected = map[int]int{}
				}
				in.injected[http.StatusBadRequest]++
				in.mu.Unlock()
				status = http.StatusBadRequest
			}
		}
		switch status {
		case 0:
			in.mu.Lock()
			seen := in.seen
			in.mu.Unlock()
			if seen == nil {
				next.ServeHTTP(w, r)
				return
			}
			arrived := time.Now()
			sw := fakeserver.NewStatusWriter(w)
			next.ServeHTTP(sw, r)
			seen(arrived, sw.Status())
			return
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":"injected %d"}`+"\n", status)
	})
}

// fanout is a bridge wired to the downstream fakes, served on 127.0.0.1.
type fanEnv struct {
	*testServer
	ds *downstream
	st *store.Store

	mu      sync.Mutex
	stopRun context.CancelFunc
	runDone chan struct{}
}

// fanoutConfig tunes newFanout.
type fanoutConfig struct {
	// Store, when set, is used instead of a new one (several bridges on one store).
	Store *store.Store
	// Connectors are the connectors of tenant acme; nil means all four.
	Connectors []string
	// Wrap, when set, wraps every opened adapter (e.g. to count convergences).
	Wrap func(connectors.Connector) connectors.Connector
	// InstanceID names the replica; "" means random.
	InstanceID string
	// Workers is the sync concurrency; 0 means the default.
	Workers int
	// BackoffBase and LeaseTTL shorten the fan-out worker's retry backoff and leases.
	BackoffBase time.Duration
	LeaseTTL    time.Duration
	Hooks       fanout.Hooks
	// Settle and SettleMax are tenant acme's; 0 converges at once.
	Settle, SettleMax time.Duration
}

// newFanout builds a bridge on url (or cfg.Store) whose tenant acme converges the
// downstream fakes. Call run to start its workers.
func newFanout(tb testing.TB, url string, ds *downstream, cfg fanoutConfig) *fanEnv {
	tb.Helper()
	names := cfg.Connectors
	if names == nil {
		names = allConnectors
	}
	var st *store.Store
	ts := newTestServer(tb, url, func(o *Options) {
		if cfg.Store != nil {
			o.Store = cfg.Store
		}
		st = o.Store
		o.InstanceID = cfg.InstanceID
		o.Workers = cfg.Workers
		o.Metrics = metrics.New()
		conns, throttles := ds.openThrottled(tb, o.Store, "acme", o.Metrics, names...)
		if cfg.Wrap != nil {
			for i, c := range conns {
				conns[i] = cfg.Wrap(c)
			}
		}
		o.Tenants[0].Connectors = conns
		o.Tenants[0].Throttles = throttles
		o.Tenants[0].Settle, o.Tenants[0].SettleMax = cfg.Settle, cfg.SettleMax
		o.fanout = fanout.Options{BackoffBase: cfg.BackoffBase, LeaseTTL: cfg.LeaseTTL, Hooks: cfg.Hooks}
	})
	return &fanEnv{testServer: ts, ds: ds, st: st}
}

// run starts the bridge's background machinery; it is stopped by stop or at the
// end of the test.
func (f *fanEnv) run(tb testing.TB) context.CancelFunc {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f.mu.Lock()
	f.stopRun, f.runDone = cancel, done
	f.mu.Unlock()
	go func() {
		defer close(done)
		if err := f.b.Run(ctx); err != nil && ctx.Err() == nil {
			tb.Errorf("run: %v", err)
		}
	}()
	tb.Cleanup(f.stop)
	return cancel
}

// stop cancels Run and waits for it to return.
func (f *fanEnv) stop() {
	f.mu.Lock()
	cancel, done := f.stopRun, f.runDone
	f.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// kill cancels Run's context without waiting (e.g. from a sync hook).
func (f *fanEnv) kill() {
	f.mu.Lock()
	cancel := f.stopRun
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// waitStopped waits for Run to return (after its context was cancelled elsewhere).
func (f *fanEnv) waitStopped(tb testing.TB, within time.Duration) {
	tb.Helper()
	f.mu.Lock()
	done := f.runDone
	f.mu.Unlock()
	select {
	case <-done:
	case <-time.After(within):
		tb.Fatalf("Run did not return within %v of its cancellation", within)
	}
}

// scimUser is a SCIM user body for userName email.
func scimUser(email, given, family string) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    email,
		"externalId":  "ext-" + email,
		"displayName": given + " " + family,
		"name":        map[string]any{"givenName": given, "familyName": family},
		"emails":      []any{map[string]any{"value": email, "type": "work", "primary": true}},
		"active":      true,
	}
}

// scimGroup is a SCIM group body with members.
func scimGroup(name string, memberIDs ...string) map[string]any {
	ms := []any{}
	for _, id := range memberIDs {
		ms = append(ms, map[string]any{"value": id})
	}
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": name,
		"members":     ms,
	}
}

// scimPatch is a PatchOp body.
func scimPatch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": list,
	}
}

func addMembersOp(ids ...string) map[string]any {
	vs := make([]any, len(ids))
	for i, id := range ids {
		vs[i] = map[string]any{"value": id}
	}
	return map[string]any{"op": "add", "path": "members", "value": vs}
}

func removeMemberOp(id string) map[string]any {
	return map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)}
}

func replaceOp(path string, v any) map[string]any {
	return map[string]any{"op": "replace", "path": path, "value": v}
}

// mustCreateID POSTs body to endpoint as tenant acme and returns the new id.
func (f *fanEnv) mustCreateID(tb testing.TB, endpoint string, body map[string]any) string {
	tb.Helper()
	code, _, out := f.do(testToken, http.MethodPost, endpoint, body)
	if code != http.StatusCreated {
		tb.Fatalf("POST %s: status %d: %v", endpoint, code, out)
	}
	id, _ := out["id"].(string)
	if id == "" {
		tb.Fatalf("POST %s: no id in %v", endpoint, out)
	}
	return id
}

// mustPatch PATCHes path as tenant acme.
func (f *fanEnv) mustPatch(tb testing.TB, path string, ops ...map[string]any) {
	tb.Helper()
	code, _, out := f.do(testToken, http.MethodPatch, path, scimPatch(ops...))
	if code != http.StatusOK && code != http.StatusNoContent {
		tb.Fatalf("PATCH %s: status %d: %v", path, code, out)
	}
}

// scimClient sends SCIM requests from any goroutine (testServer.do may only be
// called from the test goroutine).
type scimClient struct {
	base string
	hc   *http.Client
}

func newSCIMClient(srv *httptest.Server, conns int) *scimClient {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	return &scimClient{base: srv.URL + "/scim/v2", hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// send sends body and decodes the JSON answer into out (nil to discard); any
// status other than want is an error.
func (c *scimClient) send(ctx context.Context, method, path string, body any, want int, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// createUser POSTs a user and returns its id.
func (c *scimClient) createUser(ctx context.Context, body map[string]any) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := c.send(ctx, http.MethodPost, "/Users", body, http.StatusCreated, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", errors.New("created user has no id")
	}
	return out.ID, nil
}

// fanEmail is the email (and userName) of the i-th generated user.
func fanEmail(i int) string { return fmt.Sprintf("user%05d@example.com", i) }

// provisionConcurrently creates users 0..n-1 from clients concurrent goroutines,
// user i through pick(i), and, when groupOf is not nil, adds user i to group
// groupOf(i) (a group id, "" for none) with a PATCH right after its creation. It
// returns the user ids by index.
func provisionConcurrently(ctx context.Context, pick func(i int) *scimClient, n, clients int, groupOf func(i int) string) ([]string, error) {
	ids := make([]string, n)
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += clients {
				c := pick(i)
				id, err := c.createUser(ctx, scimUser(fanEmail(i), "User", fmt.Sprintf("N%05d", i)))
				if err != nil {
					errc <- err
					return
				}
				ids[i] = id
				if groupOf != nil {
					if g := groupOf(i); g != "" {
						if err := c.send(ctx, http.MethodPatch, "/Groups/"+g, scimPatch(addMembersOp(id)), http.StatusNoContent, nil); err != nil {
							errc <- err
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return ids, <-errc
}

// syncCounts returns, per connector of tenant acme, the counts of Status.
func (f *fanEnv) syncCounts(tb testing.TB) (map[string]map[string]int, TenantStatus) {
	tb.Helper()
	sts, err := f.b.Status(context.Background(), "acme")
	if err != nil {
		tb.Fatalf("status: %v", err)
	}
	out := map[string]map[string]int{}
	for _, c := range sts[0].Connectors {
		out[c.Name] = c.Counts
	}
	return out, sts[0]
}

// allSynced reports nil when every connector of tenant acme has want[connector]
// synced subjects, none pending, retrying or dead, and the queue is drained.
func (f *fanEnv) allSynced(tb testing.TB, want map[string]int) error {
	counts, ts := f.syncCounts(tb)
	for name, n := range want {
		c := counts[name]
		if c[store.SyncSynced] != n || c[store.SyncPending]+c[store.SyncRetrying]+c[store.SyncDead] != 0 {
			return fmt.Errorf("%s: counts %v, want %d synced", name, c, n)
		}
	}
	if ts.Pending != 0 || ts.Leased != 0 {
		return fmt.Errorf("queue: %d pending, %d leased", ts.Pending, ts.Leased)
	}
	return nil
}

// syncState returns the sync state of subject for connector (nil when none).
func (f *fanEnv) syncState(tb testing.TB, connector, subject string) *store.SyncState {
	tb.Helper()
	st, err := f.st.GetSync(context.Background(), "acme", connector, subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatalf("get sync %s %s: %v", connector, subject, err)
	}
	return st
}

// eventually polls cond until it returns nil, failing tb with its last error
// after within.
func eventually(tb testing.TB, within time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not converged after %v: %v", within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// convergeLog counts the Converge calls of wrapped adapters, shared by several
// bridges, and detects a subject converged by two workers at once.
type convergeLog struct {
	mu         sync.Mutex
	inflight   map[string]string // connector|subject → instance converging it now
	calls      map[string]int    // connector|subject → Converge calls
	byInstance map[string]int    // instance → Converge calls
	overlaps   []string
	seen       map[string][]connectors.Subject // connector|subject → subjects converged, in order
}

func newConvergeLog() *convergeLog {
	return &convergeLog{
		inflight: map[string]string{}, calls: map[string]int{},
		byInstance: map[string]int{}, seen: map[string][]connectors.Subject{},
	}
}

// wrapper returns a Wrap function for fanoutConfig that records into l as
// instance. The wrapper forwards Project, so the bridge's desired-state hash is
// the adapter's own.
func (l *convergeLog) wrapper(instance string) func(connectors.Connector) connectors.Connector {
	return func(c connectors.Connector) connectors.Connector {
		f := fakeconn.Wrap(c)
		converge := f.ConvergeFunc
		f.ConvergeFunc = func(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
			key := c.Name() + "|" + s.ID
			l.enter(instance, key, s)
			defer l.exit(key)
			return converge(ctx, s, prev, opts)
		}
		return f
	}
}

func (l *convergeLog) enter(instance, key string, s connectors.Subject) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if other, busy := l.inflight[key]; busy {
		l.overlaps = append(l.overlaps, fmt.Sprintf("%s converged by %s while %s was converging it", key, instance, other))
	}
	l.inflight[key] = instance
	l.calls[key]++
	l.byInstance[instance]++
	l.seen[key] = append(l.seen[key], s)
}

func (l *convergeLog) exit(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.inflight, key)
}

// callsOf returns the Converge calls made for subject on connector.
func (l *convergeLog) callsOf(connector, subject string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[connector+"|"+subject]
}

// redisDB returns url with its database number replaced by n, so that
// parallel subtests can share one redis-server.
func redisDB(url string, n int) string {
	if url == "" {
		return ""
	}
	i := strings.LastIndexByte(url, '/')
	return fmt.Sprintf("%s/%d", url[:i], n)
}
