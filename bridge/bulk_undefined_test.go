package bridge

import (
	"testing"
)

// TestBulkUndefinedRefHoldsNothingBack: an operation referring to a bulkId
// no operation defines fails (409) without holding back the later operations
// on the same resource.
func TestBulkUndefinedRefHoldsNothingBack(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL, func(o *Options) { o.BulkMaxOperations = 20; o.BulkMaxPayloadBytes = 64 << 10 })
		uid := jstr(ts.mustCreate(t, "/Users", userDoc("review.one")), "id")
		res := ts.bulkResults(t, bulkDoc(0,
			bulkOp("PATCH", "/Users/"+uid, "", patchDoc("replace", "title", "bulkId:nope")),
			bulkOp("PUT", "/Users/"+uid, "", userDoc("review.one", "title", "Replaced")),
		))
		for i, r := range res {
			t.Logf("result %d: %v", i, r)
		}
		if len(res) != 2 || res[0]["status"] != "409" || res[1]["status"] != "200" {
			t.Errorf("the PUT (no bulkId) should succeed: %v", res)
		}
	})
}
