//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestChaos(t *testing.T) {
	users := envInt("CHAOS_USERS", 2000)
	runs := envInt("CHAOS_RUNS", 3)
	bin := filepath.Join(t.TempDir(), "scim-bridge")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/scim-bridge").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var reports []string
	for run := 1; run <= runs; run++ {
		t.Run(fmt.Sprintf("redis-%d", run), func(t *testing.T) {
			reports = append(reports, chaosRun(t, bin, users, false))
		})
	}
	if os.Getenv("CHAOS_CLUSTER") != "0" {
		t.Run("cluster", func(t *testing.T) {
			reports = append(reports, chaosRun(t, bin, users, true))
		})
	}
	t.Log("summary:\n" + strings.Join(reports, "\n"))
}

// chaosRun is one run: fresh Redis (or cluster), fakes and two replicas; the
// load with its faults; the wait for convergence; the report.
func chaosRun(t *testing.T, bin string, n int, cluster bool) string {
	ds := startDownstream(t)
	var (
		redisURL string
		single   *redisNode
		rc       *redisCluster
	)
	if cluster {
		rc = startCluster(t)
		redisURL = rc.url()
	} else {
		single = startRedis(t, false)
		redisURL = "redis://" + single.addr()
	}
	cfg := writeConfig(t, ds, redisURL)
	logDir := t.TempDir()
	reps := []*replica{
		{t: t, bin: bin, config: cfg, port: freePort(t, false), log: filepath.Join(logDir, "a.log"), name: "replica-a"},
		{t: t, bin: bin, config: cfg, port: freePort(t, false), log: filepath.Join(logDir, "b.log"), name: "replica-b"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, r := range reps {
		r.start()
		t.Cleanup(r.stop)
	}
	for _, r := range reps {
		if err := r.waitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w := newWorkload(n, ds)
	cl := &client{reps: reps, http: &http.Client{Timeout: 30 * time.Second}}

	// Faults at points of the load's progress, each a little random.
	var (
		faultsMu  sync.Mutex
		faults    []string
		kills     []time.Time
		lastFault time.Time
	)
	fault := func(what string) {
		faultsMu.Lock()
		defer faultsMu.Unlock()
		faults = append(faults, what)
		lastFault = time.Now()
	}
	total := w.ops()
	type step struct {
		at float64
		do func()
	}
	kill := func(r *replica) func() {
		return func() {
			r.kill9()
			fault("kill -9 " + r.name)
			faultsMu.Lock()
			kills = append(kills, time.Now())
			faultsMu.Unlock()
			time.Sleep(jitter(time.Second))
			r.start()
			fault("restart " + r.name)
		}
	}
	steps := []step{
		{0.10 + rand.Float64()*0.1, kill(reps[0])},
		{0.35 + rand.Float64()*0.1, kill(reps[1])},
		{0.75 + rand.Float64()*0.1, kill(reps[0])},
	}
	if cluster {
		steps = append(steps, step{0.55, func() { fault("CLUSTER FAILOVER: " + rc.failover(t, "sb:{acme}:queue")) }})
	} else {
		steps = append(steps, step{0.55, func() { single.restart(); fault("redis restart") }})
	}
	if os.Getenv("CHAOS_FAULTS") == "0" {
		steps = nil // the same load without faults, for comparison
	}
	var faultWG sync.WaitGroup
	faultWG.Add(1)
	go func() {
		defer faultWG.Done()
		done := make([]bool, len(steps))
		for ctx.Err() == nil {
			p := float64(w.progress.Load()) / float64(total)
			left := false
			for i, s := range steps {
				if !done[i] && p >= s.at {
					done[i] = true
					s.do()
				}
				left = left || !done[i]
			}
			if !left {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	start := time.Now()
	if err := w.run(ctx, cl); err != nil {
		t.Fatalf("load: %v", err)
	}
	loadEnd := time.Now()
	faultWG.Wait()
	faultsMu.Lock()
	last := lastFault
	faultsMu.Unlock()
	if last.Before(loadEnd) {
		last = loadEnd
	}

	// The group members the store holds: what the bridge is asked to converge
	// (an acknowledged add missing here is a lost write, reported apart).
	stored, err := cl.groupMembers(ctx, w.group)
	if err != nil {
		t.Fatalf("group members: %v", err)
	}
	w.setStoredMembers(stored)
	wantMembers, lostMembers := 0, 0
	for i := range n {
		if inGroup(i) {
			wantMembers++
			if !w.memberInStore(i) {
				lostMembers++
			}
		}
	}

	// Convergence: queue empty, nothing pending or retrying, downstream right.
	var (
		problems   []string
		st         status
		convergedT time.Time
	)
	deadline := time.Now().Add(5 * time.Minute)
	var idleSince time.Time
	for time.Now().Before(deadline) {
		ds.trace.sample(ctx, cl)
		var err error
		st, err = cl.status(ctx)
		if err == nil {
			problems = w.check(ds, st)
			if len(problems) == 0 {
				convergedT = time.Now()
				break
			}
			// Nothing queued, pending or retrying, yet the downstream differs:
			// give up after 30 s instead of waiting out the deadline.
			if st.Pending == 0 && st.Leased == 0 && !strings.HasPrefix(problems[0], "queue") {
				if idleSince.IsZero() {
					idleSince = time.Now()
				} else if time.Since(idleSince) > 30*time.Second {
					problems = append([]string{"the bridge is idle and reports every subject synced"}, problems...)
					break
				}
			} else {
				idleSince = time.Time{}
			}
		} else {
			problems = []string{err.Error()}
		}
		time.Sleep(200 * time.Millisecond)
	}
	ids, err := cl.listIDs(ctx)
	if err != nil {
		t.Fatalf("list users: %v", err)
	}
	lost := 0
	for _, id := range w.acked() {
		if !ids[id] {
			lost++
		}
	}
	creates := ds.duplicateCreates()
	creates["odm"] += w.odmDuplicates(ds)
	dupTotal := 0
	for _, v := range creates {
		dupTotal += v
	}
	noops := ds.duplicates()
	atKill, unexplained := ds.explainDuplicates(kills)
	kind := "redis"
	if cluster {
		kind = "cluster"
	}
	conv := "NOT converged after 5m: " + strings.Join(first(problems, 5), "; ")
	if !convergedT.IsZero() {
		conv = fmt.Sprintf("converged %.1fs after the last fault (%.1fs after the load ended)",
			convergedT.Sub(last).Seconds(), convergedT.Sub(loadEnd).Seconds())
	}
	report := fmt.Sprintf("%s, %d users, load %.0fs: lost %d, duplicate creates %d %v (BIMData: %d first answered within %v of a kill -9, %d otherwise), "+
		"store %d vs acknowledged %d, group adds acknowledged %d of which missing from the store %d, dead letters %d, %s; "+
		"no-op writes counted by the fakes %v; faults: %s; downstream faults injected: %d",
		kind, n, loadEnd.Sub(start).Seconds(), lost, dupTotal, creates, atKill, inFlightWindow, unexplained,
		len(ids), len(w.acked()), wantMembers, lostMembers, st.dead(), conv, noops,
		strings.Join(faults, ", "), ds.injected.Load())
	t.Log(report)
	if tl := ds.trace.String(); tl != "" {
		t.Logf("timeline (load from %.1fs to %.1fs, last fault at %.1fs):\n%s", start.Sub(ds.trace.start).Seconds(),
			loadEnd.Sub(ds.trace.start).Seconds(), last.Sub(ds.trace.start).Seconds(), tl)
	}
	if lost > 0 || lostMembers > 0 || convergedT.IsZero() || st.dead() > 0 || unexplained > 0 || dupTotal != atKill {
		for _, r := range reps {
			if data, err := os.ReadFile(r.log); err == nil {
				t.Logf("%s log (tail):\n%s", r.name, tail(string(data), 40))
			}
		}
		t.Errorf("run failed: %s", report)
	}
	return report
}

func first(ss []string, n int) []string {
	if len(ss) > n {
		return append(ss[:n:n], fmt.Sprintf("… %d more", len(ss)-n))
	}
	return ss
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// client is an IdP: it retries 5xx, 429 and broken connections on the next
// replica, honouring Retry-After, as Okta and Entra do.
type client struct {
	reps []*replica
	http *http.Client
	rr   atomic.Int64
}

func (c *client) do(ctx context.Context, method, path string, body any, token string) (int, []byte, error) {
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	for ctx.Err() == nil {
		r := c.reps[int(c.rr.Add(1))%len(c.reps)]
		req, _ := http.NewRequestWithContext(ctx, method, r.url()+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			time.Sleep(jitter(100 * time.Millisecond))
			continue
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			wait := 100 * time.Millisecond
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra > 0 {
				wait = min(time.Duration(ra)*time.Second, 2*time.Second)
			}
			time.Sleep(jitter(wait))
			continue
		}
		return resp.StatusCode, out, nil
	}
	return 0, nil, ctx.Err()
}

// status is the admin status of tenant acme.
type status struct {
	Pending    int `json:"pending"`
	Leased     int `json:"leased"`
	Connectors []struct {
		Name   string         `json:"name"`
		Counts map[string]int `json:"counts"`
	} `json:"connectors"`
}

func (s status) dead() int {
	n := 0
	for _, c := range s.Connectors {
		n += c.Counts["dead"]
	}
	return n
}

func (c *client) status(ctx context.Context) (status, error) {
	code, body, err := c.do(ctx, http.MethodGet, "/admin/status?tenant=acme", nil, adminToken)
	if err != nil || code != http.StatusOK {
		return status{}, fmt.Errorf("admin status: %d %v %s", code, err, body)
	}
	var out []status
	if err := json.Unmarshal(body, &out); err != nil || len(out) != 1 {
		return status{}, fmt.Errorf("admin status: %v %s", err, body)
	}
	return out[0], nil
}

// listIDs lists the ids of every user in the store.
func (c *client) listIDs(ctx context.Context) (map[string]bool, error) {
	ids := map[string]bool{}
	for start := 1; ; start += 1000 {
		code, body, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/scim/v2/Users?startIndex=%d&count=1000&attributes=id", start), nil, scimToken)
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("list: %d %v %s", code, err, body)
		}
		var page struct {
			Total     int `json:"totalResults"`
			Resources []struct {
				ID string `json:"id"`
			} `json:"Resources"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Resources {
			ids[r.ID] = true
		}
		if len(page.Resources) == 0 || start+len(page.Resources) > page.Total {
			return ids, nil
		}
	}
}

// workload is the SCIM traffic of a run: n users created; every 7th renamed,
// every 10th deactivated, every 3rd added to the mapped group.
type workload struct {
	n        int
	members  []string // bimplus team member id of user i
	progress atomic.Int64

	mu     sync.Mutex
	ids    []string
	group  string
	stored map[string]bool // group members in the store after the load
}

func (w *workload) setStoredMembers(m map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stored = m
}

func (w *workload) memberInStore(i int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stored[w.ids[i]]
}

// groupMembers returns the member ids of group id as the store holds them.
func (c *client) groupMembers(ctx context.Context, id string) (map[string]bool, error) {
	code, body, err := c.do(ctx, http.MethodGet, "/scim/v2/Groups/"+id+"?attributes=members", nil, scimToken)
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("get group: %d %v %s", code, err, body)
	}
	var g struct {
		Members []struct {
			Value string `json:"value"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, m := range g.Members {
		out[m.Value] = true
	}
	return out, nil
}

func newWorkload(n int, ds *downstream) *workload {
	w := &workload{n: n, members: make([]string, n), ids: make([]string, n)}
	for i := range n {
		w.members[i] = ds.bimplus.AddTeamMember(email(i))
	}
	return w
}

func email(i int) string { return fmt.Sprintf("user-%05d@chaos.test", i) }

func finalUserName(i int) string {
	if i%7 == 0 {
		return fmt.Sprintf("renamed-%05d@chaos.test", i)
	}
	return email(i)
}

func active(i int) bool { return i%10 != 0 }

func inGroup(i int) bool { return i%3 == 0 }

func (w *workload) ops() int64 {
	var n int64
	for i := range w.n {
		n++
		if i%7 == 0 {
			n++
		}
		if !active(i) {
			n++
		}
		if inGroup(i) {
			n++
		}
	}
	return n
}

func (w *workload) acked() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, id := range w.ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

func (w *workload) run(ctx context.Context, c *client) error {
	gid, err := c.createOrFind(ctx, "/scim/v2/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": groupName,
	}, "displayName", groupName)
	if err != nil {
		return err
	}
	w.group = gid
	next := atomic.Int64{}
	errc := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= w.n {
					return
				}
				if err := w.user(ctx, c, i); err != nil {
					errc <- fmt.Errorf("user %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func (w *workload) user(ctx context.Context, c *client, i int) error {
	id, err := c.createOrFind(ctx, "/scim/v2/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": email(i),
		"name":   map[string]any{"givenName": "User", "familyName": fmt.Sprint(i)},
		"emails": []any{map[string]any{"value": email(i), "type": "work", "primary": true}}, "active": true,
	}, "userName", email(i))
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.ids[i] = id
	w.mu.Unlock()
	w.progress.Add(1)
	patch := func(path string, ops ...map[string]any) error {
		code, body, err := c.do(ctx, http.MethodPatch, path, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}, scimToken)
		if err != nil || (code != http.StatusOK && code != http.StatusNoContent) {
			return fmt.Errorf("PATCH %s: %d %v %s", path, code, err, body)
		}
		w.progress.Add(1)
		return nil
	}
	if i%7 == 0 {
		if err := patch("/scim/v2/Users/"+id, map[string]any{"op": "replace", "path": "userName", "value": finalUserName(i)}); err != nil {
			return err
		}
	}
	if inGroup(i) {
		if err := patch("/scim/v2/Groups/"+w.group, map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}}); err != nil {
			return err
		}
	}
	if !active(i) {
		if err := patch("/scim/v2/Users/"+id, map[string]any{"op": "replace", "value": map[string]any{"active": false}}); err != nil {
			return err
		}
	}
	return nil
}

// createOrFind POSTs doc; a 409 (an earlier attempt whose answer was lost got
// through) is resolved by a filter on attr.
func (c *client) createOrFind(ctx context.Context, path string, doc map[string]any, attr, value string) (string, error) {
	code, body, err := c.do(ctx, http.MethodPost, path, doc, scimToken)
	if err != nil {
		return "", err
	}
	var out struct {
		ID        string `json:"id"`
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	switch code {
	case http.StatusCreated:
		if err := json.Unmarshal(body, &out); err != nil {
			return "", err
		}
		return out.ID, nil
	case http.StatusConflict:
		q := url.QueryEscape(fmt.Sprintf("%s eq %q", attr, value))
		code, body, err = c.do(ctx, http.MethodGet, path+"?filter="+q, nil, scimToken)
		if err != nil || code != http.StatusOK {
			return "", fmt.Errorf("find %s: %d %v %s", value, code, err, body)
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Resources) != 1 {
			return "", fmt.Errorf("find %s: %v %s", value, err, body)
		}
		return out.Resources[0].ID, nil
	}
	return "", fmt.Errorf("POST %s: %d %s", path, code, body)
}

// check lists what still differs from the desired state.
func (w *workload) check(ds *downstream, st status) []string {
	var p []string
	if st.Pending != 0 || st.Leased != 0 {
		p = append(p, fmt.Sprintf("queue: %d pending, %d leased", st.Pending, st.Leased))
	}
	for _, c := range st.Connectors {
		if c.Counts["pending"] != 0 || c.Counts["retrying"] != 0 {
			p = append(p, fmt.Sprintf("%s: %v", c.Name, c.Counts))
		}
	}
	if n := len(ds.authress.Connections()); n != 1 {
		p = append(p, fmt.Sprintf("authress: %d connections", n))
	}
	for i := range w.n {
		_, there := ds.bimdata.User(email(i))
		if there != active(i) {
			p = append(p, fmt.Sprintf("bimdata user %d present=%v", i, there))
		}
		// A user deactivated before its first convergence is never created.
		u, ok := ds.odm.UserByName(finalUserName(i))
		if (active(i) && (!ok || !u.Active)) || (!active(i) && ok && u.Active) {
			p = append(p, fmt.Sprintf("odm user %d found=%v active=%v", i, ok, u.Active))
		}
		role, has := ds.bimplus.RoleOf(project, w.members[i])
		if want := w.memberInStore(i) && active(i); has != want || (want && role != editorRole) {
			p = append(p, fmt.Sprintf("bimplus user %d role=%q has=%v", i, role, has))
		}
	}
	return p
}

// odmDuplicates counts ODM logins created more than once.
func (w *workload) odmDuplicates(ds *downstream) int {
	seen := map[string]int{}
	for _, u := range ds.odm.Users() {
		seen[strings.ToLower(u.UserName)]++
	}
	d := 0
	for _, n := range seen {
		if n > 1 {
			d += n - 1
		}
	}
	return d
}
