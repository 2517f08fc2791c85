package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzAppendAuditJSON: the audit entry encoder writes byte for byte what
// json.Marshal writes, and fails where it fails.
func FuzzAppendAuditJSON(f *testing.F) {
	f.Add("scim", "User|u1", "ada@example.com <x> & \"y\"", "app", "dead", int64(1796297697143123456), int64(0), 201, int64(12), 3, "k", 2, int64(0))
	f.Add("", "", "\xff\u2028", "", "", int64(0), int64(-62135596800000000), 0, int64(0), 0, "", 0, int64(3600))
	f.Add("downstream", "Group|g", "é", "c", "retrying", int64(-1), int64(253402300800000000000/1000), -5, int64(-1), -2, "a\x00b", -1, int64(-86400))
	f.Fuzz(func(t *testing.T, kind, subject, text, connector, outcome string, ns, untilNS int64, status int, dur int64, attempt int, ckey string, cval int, zone int64) {
		loc := time.FixedZone("z", int(zone%(48*3600)))
		e := AuditEntry{
			Time: time.Unix(0, ns).In(loc), Kind: kind, Subject: subject, RequestID: text, BulkID: connector,
			Identity: text, Method: outcome, ResourceType: kind, ResourceID: subject, Name: text, Change: outcome, Status: status,
			Connector: connector, Action: text, Outcome: outcome, ErrorClass: kind, Error: text, DurationMS: dur, Attempt: attempt,
			Reason: text, Trigger: connector,
		}
		if untilNS != 0 {
			e.Until = time.Unix(0, untilNS).In(loc)
		}
		if ckey != "" {
			e.Counts = map[string]int{ckey: cval, ckey + "2": -cval}
		}
		if ns%3 == 0 {
			e.ID = "1-0"
		}
		want, werr := json.Marshal(&e)
		got, gerr := appendAuditJSON([]byte("prefix"), &e)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("json.Marshal error %v, appendAuditJSON error %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("appendAuditJSON:\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}

func TestAppendAuditJSONZero(t *testing.T) {
	for _, e := range []AuditEntry{{}, {Kind: AuditAdmin, Counts: map[string]int{}}, {Until: time.Date(2030, 1, 1, 0, 0, 0, 1, time.UTC)}} {
		want, _ := json.Marshal(&e)
		got, err := appendAuditJSON(nil, &e)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%+v: %s (%v), want %s", e, got, err, want)
		}
	}
	for _, e := range []AuditEntry{{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, {Until: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		if _, err := appendAuditJSON(nil, &e); err == nil {
			t.Errorf("%+v encoded; json.Marshal refuses it", e)
		}
	}
}
