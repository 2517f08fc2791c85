package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	bimplusfake "github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
	"github.com/scim-bridge/scim-bridge/store"
)

// sandboxBanner is what the sandbox prints on stdout once it serves.
type sandboxBanner struct {
	scimURL, token, adminToken, base string
	fakeToken, bimplusURL, odmUsers  string
}

var sandboxBannerRE = regexp.MustCompile(`(?s)` +
	`  SCIM_URL=(http://[0-9.:]+)/scim/v2\n` +
	`  TOKEN=(\S+)\n` +
	`  SCIM_BRIDGE_ADMIN_TOKEN=(\S+) .*` +
	`fake downstream servers \(their token: (\S+)\):\n` +
	`.*  bimplus   (http://\S+)/v2 .*` +
	`  odm       (http://\S+/Users)\n` +
	`.*groups "Design Team" and "Admins" map to Bimplus project ` + sandboxProject + ` \(editor, admin\)\n`)

func parseSandboxBanner(t *testing.T, out *lockedBuffer) sandboxBanner {
	t.Helper()
	m := out.waitMatch(t, sandboxBannerRE, 20*time.Second)
	return sandboxBanner{scimURL: m[1] + "/scim/v2", base: m[1], token: m[2], adminToken: m[3],
		fakeToken: m[4], bimplusURL: m[5], odmUsers: m[6]}
}

// getJSON GETs url from a fake downstream with its authorization header.
func getJSON(t *testing.T, hc *http.Client, u, auth string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("GET %s: %v\n%s", u, err, data)
		}
	}
	return resp.StatusCode
}

// eventually polls cond every 50ms for at most 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSandboxWalkThrough(t *testing.T) {
	t.Parallel()
	cmd := startCommand(t, sandboxCmd, envFunc(), "--listen", "127.0.0.1:0")
	sb := parseSandboxBanner(t, cmd.stdout)
	hc := newHTTPClient()
	const email = "ada@example.com"

	if !strings.Contains(cmd.stdout.String(), "embedded store: state is lost on exit") {
		t.Errorf("the sandbox does not say its state is lost on exit:\n%s", cmd.stdout.String())
	}
	if strings.Contains(cmd.stderr.String(), sb.token) || strings.Contains(cmd.stderr.String(), sb.adminToken) {
		t.Errorf("the sandbox logs its tokens:\n%s", cmd.stderr.String())
	}

	// README: create a user.
	code, user := scimCall(t, hc, "POST", sb.scimURL+"/Users", sb.token, userBody(email))
	if code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %v", code, user)
	}
	id, _ := user["id"].(string)
	if id == "" || user["active"] != true {
		t.Fatalf("created user: %v", user)
	}

	// README: find it by filter.
	q := url.Values{"filter": {`userName eq "` + email + `"`}}
	code, list := scimCall(t, hc, "GET", sb.scimURL+"/Users?"+q.Encode(), sb.token, nil)
	if code != http.StatusOK || list["totalResults"] != float64(1) {
		t.Fatalf("GET /Users?filter: %d %v, want totalResults 1", code, list)
	}
	if rs, _ := list["Resources"].([]any); len(rs) != 1 || rs[0].(map[string]any)["id"] != id {
		t.Errorf("filter found %v, want the user %s", list["Resources"], id)
	}
	q = url.Values{"filter": {`userName eq "nobody@example.com"`}}
	if code, list := scimCall(t, hc, "GET", sb.scimURL+"/Users?"+q.Encode(), sb.token, nil); code != http.StatusOK || list["totalResults"] != float64(0) {
		t.Errorf("filter without a match: %d %v, want an empty ListResponse", code, list)
	}

	// Group "Design Team" with the user as member: Bimplus project editor.
	code, group := scimCall(t, hc, "POST", sb.scimURL+"/Groups", sb.token, map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Design Team",
		"members":     []any{map[string]any{"value": id}},
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /Groups: %d %v", code, group)
	}
	membersURL := sb.bimplusURL + "/v2/acme/projects/" + sandboxProject + "/members"
	eventually(t, "Bimplus project editor after the group push", func() bool {
		var ms []bimplusfake.Membership
		getJSON(t, hc, membersURL, "BimPlus "+sb.fakeToken, &ms)
		return len(ms) == 1 && strings.EqualFold(ms[0].Member.Email, email) && ms[0].Role.Name == "Project_Editor"
	})
	odmQuery := sb.odmUsers + "?" + url.Values{"filter": {`userName eq "` + email + `"`}}.Encode()
	eventually(t, "ODM user after the create", func() bool {
		var l struct {
			TotalResults int `json:"totalResults"`
		}
		getJSON(t, hc, odmQuery, "Bearer "+sb.fakeToken, &l)
		return l.TotalResults == 1
	})

	// README: deactivate it.
	code, user = scimCall(t, hc, "PATCH", sb.scimURL+"/Users/"+id, sb.token, map[string]any{
		"schemas":    []string{bridge.PatchOpSchema},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}},
	})
	if code != http.StatusOK || user["active"] != false {
		t.Fatalf("PATCH active=false: %d %v", code, user)
	}
	eventually(t, "ODM user deactivated", func() bool {
		var l struct {
			TotalResults int `json:"totalResults"`
		}
		getJSON(t, hc, odmQuery, "Bearer "+sb.fakeToken, &l)
		return l.TotalResults == 0 // the ODM API lists active users only
	})

	// status against the sandbox's admin endpoint: all four connectors synced.
	adminEnv := envFunc(map[string]string{"SCIM_BRIDGE_ADMIN_TOKEN": sb.adminToken})
	names := []string{"bimdata", "bimplus", "authress", "odm"}
	waitStatus(t, 10*time.Second, func(st []bridge.TenantStatus) bool {
		if len(st) != 1 || st[0].Tenant != "sandbox" || st[0].Pending != 0 || st[0].Leased != 0 {
			return false
		}
		for _, n := range names {
			c := counts(st, "sandbox", n)
			if c[store.SyncSynced] == 0 || c[store.SyncPending]+c[store.SyncRetrying]+c[store.SyncDead] != 0 {
				return false
			}
		}
		return true
	}, adminEnv, "--url", sb.base)
	code, stdout, stderr := runCLI(t, adminEnv, "status", "--url", sb.base, "--tenant", "sandbox")
	if code != 0 {
		t.Fatalf("status --url: exit %d\n%s", code, stderr)
	}
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^\s+` + n + `\s+[1-9]\d*\s+0\s+0\s+0$`).MatchString(stdout) {
			t.Errorf("status does not show %s synced:\n%s", n, stdout)
		}
	}
	if code, _, stderr := runCLI(t, envFunc(map[string]string{"SCIM_BRIDGE_ADMIN_TOKEN": "wrong-admin-token"}), "status", "--url", sb.base); code != 1 || !strings.Contains(stderr, "401") {
		t.Errorf("status with a wrong admin token: exit %d, %q; want 1 and a 401", code, stderr)
	}

	// A dry-run reconcile through the running server: nothing has drifted.
	code, stdout, stderr = runCLI(t, adminEnv, "reconcile", "--url", sb.base, "--tenant", "sandbox", "--dry-run")
	if code != 0 {
		t.Fatalf("reconcile --url --dry-run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`(?m)^tenant sandbox \(dry run, nothing changed\): [1-9]\d* subjects checked, 0 changes, 0 deletions$`).MatchString(stdout) {
		t.Errorf("reconcile --dry-run plan:\n%s", stdout)
	}
	if code, _, stderr := runCLI(t, adminEnv, "reconcile", "--url", sb.base, "--dry-run"); code != 2 || !strings.Contains(stderr, "--tenant is required") {
		t.Errorf("reconcile --url without --tenant: exit %d, %q; want 2", code, stderr)
	}
	if code, _, stderr := runCLI(t, adminEnv, "reconcile", "--url", sb.base, "--tenant", "nope", "--dry-run"); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("reconcile of an unknown tenant: exit %d, %q; want 1 and a 404", code, stderr)
	}

	if code := cmd.stop(t); code != 0 {
		t.Errorf("sandbox returned %d, want 0; stderr:\n%s", code, cmd.stderr.String())
	}
}

func TestSandboxListenError(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, envFunc(), "sandbox", "--listen", "127.0.0.1:-1")
	if code != 1 {
		t.Errorf("exit %d, want 1 for an unusable address", code)
	}
	if stdout != "" {
		t.Errorf("the sandbox printed its banner without serving:\n%s", stdout)
	}
	if !strings.Contains(stderr, "listen") {
		t.Errorf("stderr does not name the failing listen:\n%s", stderr)
	}
}
