package scimapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzAppendView: the view encoder writes valid JSON that decodes to what
// encoding/json's encoding of the same value decodes to.
func FuzzAppendView(f *testing.F) {
	for _, s := range []string{
		`{"userName":"a","active":true,"emails":[{"value":"x@y","primary":false}],"n":1.5e300,"z":null}`,
		`{"k":"<\u2028>&\"\\\u0001é\ud800"}`, `{"a":{"b":{"c":[1,2,{"d":[]}]}}}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v map[string]any
		if json.Unmarshal(data, &v) != nil || v == nil {
			return
		}
		v["schemas"] = []string{"urn:x", "é\x00"}
		got, err := marshalView(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %q", got)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decodes differently:\n got %s\nwant %s", got, want)
		}
		if !bytes.ContainsAny(got, "<>&\u2028\u2029") && !bytes.Equal(got, want) {
			t.Fatalf("bytes differ:\n got %s\nwant %s", got, want)
		}
	})
}
