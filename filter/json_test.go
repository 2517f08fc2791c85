package filter

import (
	"encoding/json"
	"reflect"
	"testing"
)

var resJSONSeeds = []string{
	`{}`,
	` { "a" : 1 , "b":[ ] ,"c":{}} `,
	`{"userName":"bjensen","active":true,"x":null,"n":-1.5e3,"z":0,"f":false}`,
	`{"emails":[{"value":"a@b.c","primary":true},{"value":"d@e.f"}],"name":{"givenName":"Ba"}}`,
	`{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \u20AC \ud83d\ude00 end"}`,
	`{"lone":"\ud83d x","lone2":"\ude00","pair?":"\ud83d\u0041"}`,
	"{\"utf8\":\"h\xc3\xa9llo \xe2\x82\xac \xff bad \xed\xa0\x80\"}",
	`{"dup":1,"dup":2}`,
	`{"big":1e400}`,
	`{"num":01}`,
	`{"num":1.}`,
	`{"num":-}`,
	`{"a":1,}`,
	`{"a" 1}`,
	`{"a":tru}`,
	`{"a":"\x"}`,
	"{\"ctl\":\"a\x01b\"}",
	`{"a":[1,2,]}`,
	`{"a":1} x`,
	`[1,2]`,
	`null`,
	`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"x"}}}`,
}

// resJSONAgree checks decodeJSONObject against encoding/json on data.
func resJSONAgree(t *testing.T, data []byte) {
	var want map[string]any
	wantErr := json.Unmarshal(data, &want)
	got, err := DecodeJSONObject(string(data))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: err = %v, encoding/json err = %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ngot  %#v\nwant %#v", data, got, want)
	}
	if fast, ok := fastDecodeObject(string(data)); ok && (wantErr != nil || !reflect.DeepEqual(fast, want)) {
		t.Fatalf("%q: fast path accepted %#v, encoding/json gives %#v, %v", data, fast, want, wantErr)
	}
	var wantA []any
	wantAErr := json.Unmarshal(data, &wantA)
	gotA, errA := DecodeJSONArray(string(data))
	if (errA != nil) != (wantAErr != nil) || (errA == nil && !reflect.DeepEqual(gotA, wantA)) {
		t.Fatalf("%q as array: got %#v, %v; want %#v, %v", data, gotA, errA, wantA, wantAErr)
	}
}

func TestDecodeJSONObjectAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range resJSONSeeds {
		resJSONAgree(t, []byte(s))
	}
}

func FuzzDecodeJSONObject(f *testing.F) {
	for _, s := range resJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { resJSONAgree(t, data) })
}
