package bridge

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A PATCH of a user may start from the replica's cached copy (one store round
// trip instead of two). These tests run two replicas on one store and make
// the first one's copy stale through the second: no write may be lost, no
// answer may come from the stale copy, and If-Match is judged on the stored
// user.
func TestPatchFromStaleCacheLosesNothing(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		a := newTestServer(t, url)
		if url == "" {
			c, ok := a.b.Store().Client().(*redis.Client)
			if !ok {
				t.Fatalf("embedded store client %T", a.b.Store().Client())
			}
			url = "redis://" + c.Options().Addr
		}
		b := newTestServer(t, url)

		code, _, u := a.do(testToken, http.MethodPost, "/Users", userDoc("ann", "title", "first", "active", true))
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, u)
		}
		id := u["id"].(string)
		path := "/Users/" + id
		patch := func(ops ...map[string]any) map[string]any {
			return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
		}

		// Replica b deactivates the user and retitles it; a's copy still says
		// active and "first".
		if code, _, body := b.do(testToken, http.MethodPatch, path, patch(
			map[string]any{"op": "replace", "path": "active", "value": false},
			map[string]any{"op": "replace", "path": "title", "value": "second"})); code != http.StatusOK {
			t.Fatalf("patch on b: %d %v", code, body)
		}

		// A PATCH that changes nothing on a's copy (active is true there) must
		// still reactivate the stored user.
		code, hdr, got := a.do(testToken, http.MethodPatch, path, patch(map[string]any{"op": "replace", "path": "active", "value": true}))
		if code != http.StatusOK || got["active"] != true || got["title"] != "second" {
			t.Fatalf("patch on a: %d %v; want active true and title second", code, got)
		}
		if hdr.Get("ETag") != `W/"3"` {
			t.Fatalf("ETag %q, want W/\"3\"", hdr.Get("ETag"))
		}
		if _, _, stored := b.do(testToken, http.MethodGet, path, nil); stored["active"] != true || stored["title"] != "second" {
			t.Fatalf("stored after patch on a: %v", stored)
		}

		// b changes it again; a's change of another attribute keeps b's.
		b.do(testToken, http.MethodPatch, path, patch(map[string]any{"op": "replace", "path": "title", "value": "third"}))
		code, _, got = a.do(testToken, http.MethodPatch, path, patch(map[string]any{"op": "replace", "path": "displayName", "value": "Ann"}))
		if code != http.StatusOK || got["title"] != "third" || got["displayName"] != "Ann" {
			t.Fatalf("patch on a: %d %v; want title third and displayName Ann", code, got)
		}

		// If-Match: the stored version (6 by now) passes on a although a's copy
		// may be older; an old one is refused with 412 and changes nothing.
		b.do(testToken, http.MethodPatch, path, patch(map[string]any{"op": "replace", "path": "title", "value": "fourth"}))
		code, _, got = a.do(testToken, http.MethodPatch, path, patch(map[string]any{"op": "replace", "path": "nickName", "value": "annie"}), "If-Match", `W/"6"`)
		if code != http.StatusOK || got["title"] != "fourth" || got["nickName"] != "annie" {
			t.Fatalf("patch with If-Match current on a: %d %v", code, got)
		}
		code, _, got = a.do(testToken, http.MethodPatch, path, patch(map[string]any{"op": "replace", "path": "nickName", "value": "stale"}), "If-Match", `W/"6"`)
		if code != http.StatusPreconditionFailed {
			t.Fatalf("patch with an old If-Match: %d %v, want 412", code, got)
		}
		if _, _, stored := b.do(testToken, http.MethodGet, path, nil); stored["nickName"] != "annie" || stored["meta"].(map[string]any)["version"] != `W/"7"` {
			t.Fatalf("stored after refused patch: %v", stored)
		}

		// Deleted on b: a answers 404, and does not bring the user back.
		if code, _, _ := b.do(testToken, http.MethodDelete, path, nil); code != http.StatusNoContent {
			t.Fatalf("delete on b: %d", code)
		}
		code, _, got = a.do(testToken, http.MethodPatch, path, patch(map[string]any{"op": "replace", "path": "title", "value": "ghost"}))
		if code != http.StatusNotFound {
			t.Fatalf("patch of a deleted user on a: %d %v, want 404", code, got)
		}
		if code, _, _ := b.do(testToken, http.MethodGet, path, nil); code != http.StatusNotFound {
			t.Fatalf("get after patch of deleted user: %d, want 404", code)
		}
	})
}
