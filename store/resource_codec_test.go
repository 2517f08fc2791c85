package store

import (
	"testing"

	"github.com/scim-bridge/scim-bridge/filter"
)

// The fast path of the JSON decoder takes what the store writes: a stored
// document is never decoded by encoding/json.
func TestStoredAttributesTakeTheFastPath(t *testing.T) {
	t.Parallel()
	d, err := encodeDoc(resBenchUser(1))
	if err != nil {
		t.Fatal(err)
	}
	if !filter.FastJSONObject(d.attrs) {
		t.Fatalf("fast path refused %s", d.attrs)
	}
}
