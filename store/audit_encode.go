package store

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// appendAuditJSON appends the JSON encoding of e to b, byte for byte what
// json.Marshal(e) writes (audit_encode_test.go proves it on a fuzzer), without
// reflection: the audit writer encodes every entry of every SCIM write. It
// falls back on json.Marshal for a time json.Marshal refuses (a year outside
// 0-9999), to return its error.
func appendAuditJSON(b []byte, e *AuditEntry) ([]byte, error) {
	if !jsonTime(e.Time) || (!e.Until.IsZero() && !jsonTime(e.Until)) {
		raw, err := json.Marshal(e)
		return append(b, raw...), err
	}
	b = append(b, '{')
	if e.ID != "" {
		b = appendField(b, "id", e.ID)
		b = append(b, ',')
	}
	b = append(b, `"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","kind":`...)
	b = AppendJSONString(b, e.Kind)
	for _, f := range [...]struct{ name, v string }{
		{"subject", e.Subject}, {"requestId", e.RequestID}, {"bulkId", e.BulkID}, {"identity", e.Identity},
		{"method", e.Method}, {"resourceType", e.ResourceType}, {"resourceId", e.ResourceID}, {"name", e.Name},
		{"change", e.Change},
	} {
		if f.v != "" {
			b = append(b, ',')
			b = appendField(b, f.name, f.v)
		}
	}
	if e.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
	}
	for _, f := range [...]struct{ name, v string }{
		{"connector", e.Connector}, {"action", e.Action}, {"outcome", e.Outcome}, {"errorClass", e.ErrorClass}, {"error", e.Error},
	} {
		if f.v != "" {
			b = append(b, ',')
			b = appendField(b, f.name, f.v)
		}
	}
	if e.DurationMS != 0 {
		b = append(b, `,"durationMs":`...)
		b = strconv.AppendInt(b, e.DurationMS, 10)
	}
	if e.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(e.Attempt), 10)
	}
	if !e.Until.IsZero() {
		b = append(b, `,"until":"`...)
		b = e.Until.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if e.Reason != "" {
		b = append(b, ',')
		b = appendField(b, "reason", e.Reason)
	}
	if e.Trigger != "" {
		b = append(b, ',')
		b = appendField(b, "trigger", e.Trigger)
	}
	if len(e.Counts) > 0 {
		keys := make([]string, 0, len(e.Counts))
		for k := range e.Counts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"counts":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(e.Counts[k]), 10)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendField appends "name":"v" (name needs no escaping).
func appendField(b []byte, name, v string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return AppendJSONString(b, v)
}

// jsonTime reports whether t.MarshalJSON succeeds: a year of four digits and
// a zone offset under 24 hours.
func jsonTime(t time.Time) bool {
	y := t.Year()
	_, off := t.Zone()
	return y >= 0 && y <= 9999 && off > -24*3600 && off < 24*3600
}
