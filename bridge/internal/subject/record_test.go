package subject

import (
	"testing"

	"github.com/scim-bridge/scim-bridge/store"
)

func TestRecord(t *testing.T) {
	t.Parallel()
	if rec, err := Record(nil); err != nil || rec.IDs != nil {
		t.Errorf("Record(nil) = %v, %v; want the zero record", rec, err)
	}
	rec, err := Record(&store.SyncState{Record: []byte(`{"ids":{"user":"17"}}`)})
	if err != nil || rec.IDs["user"] != "17" {
		t.Errorf("Record = %v, %v; want ids.user 17", rec, err)
	}
	rec, err = Record(&store.SyncState{Connector: "c", Subject: "User|1", Record: []byte(`{"ids":`)})
	if err == nil || rec.IDs != nil {
		t.Errorf("Record of a truncated record = %v, %v; want an error and the zero record", rec, err)
	}
}
