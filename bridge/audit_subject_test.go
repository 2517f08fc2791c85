package bridge

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/store"
)

// TestAuditNoSubjectStreamForMadeUpIDs: SCIM writes to ids that do not exist
// are refused and recorded in the tenant's trail, but create no subject
// stream: each was a key with a 30-day TTL, so a client could create keys
// without bound. A real user's refused write still joins its stream.
func TestAuditNoSubjectStreamForMadeUpIDs(t *testing.T) {
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		ctx := context.Background()
		rdb := ts.b.Store().Client()
		const n = 10
		for i := range n {
			id := fmt.Sprintf("made-up-%d", i)
			for _, w := range []struct {
				method string
				body   any
			}{
				{http.MethodPatch, scimPatch(replaceOp("displayName", "x"))},
				{http.MethodPatch, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"bogus"}]}`},
				{http.MethodPut, userDoc("made-up")},
				{http.MethodDelete, nil},
			} {
				if code, _, body := ts.do(testToken, w.method, "/Users/"+id, w.body); code < 400 {
					t.Fatalf("%s /Users/%s: %d %v, want refused", w.method, id, code, body)
				}
			}
		}
		refused := auditOf(t, ts.b, "acme", store.AuditQuery{Kind: store.AuditSCIM, Limit: 1000})
		if len(refused) != 4*n {
			t.Errorf("%d SCIM write entries in the tenant's trail, want the %d refused writes", len(refused), 4*n)
		}
		keys, err := rdb.Keys(ctx, "*audit:s:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Errorf("refused writes to made-up ids created %d subject streams, e.g. %s", len(keys), strings.Join(keys[:min(3, len(keys))], ", "))
		}

		code, _, body := ts.do(testToken, http.MethodPost, "/Users", userDoc("real"))
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, body)
		}
		id := body["id"].(string)
		if code, _, _ := ts.do(testToken, http.MethodPut, "/Users/"+id, map[string]any{"schemas": []string{UserSchema}}); code != http.StatusBadRequest {
			t.Fatalf("PUT without userName: %d, want 400", code)
		}
		es := auditOf(t, ts.b, "acme", store.AuditQuery{Subject: "User|" + id})
		if len(es) != 2 || es[0].Status != http.StatusCreated || es[1].Status != http.StatusBadRequest {
			t.Errorf("the real user's entries %+v, want its creation and its refused PUT", es)
		}
	})
}
