package store

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAppendJSONMatchesStdlib(t *testing.T) {
	t.Parallel()
	values := []any{
		resBenchUser(7).Attrs,
		map[string]any{},
		map[string]any{"b": 1.0, "a": []any{}, "c": nil, "d": map[string]any(nil), "e": []any(nil)},
		map[string]any{"html": "<a href=\"x\">&</a>", "ctl": "a\x01\tb\n", "uni": "Zoë 😀 \u2028", "bad": "\xff\xfe"},
		map[string]any{"n": []any{0.0, -0.0, 1e-7, 1e-6, 123456789.125, 1e20, 1e21, -3.5e300, 5e-324, 42.0}},
		map[string]any{"typed": []map[string]any{{"value": "x"}}, "int": 7, "strs": []string{"a", "<"}},
		map[string]any{"emails": []any{map[string]any{"value": "a@b.c", "primary": true, "type": "work"}}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendJSON(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("AppendJSON(%v)\n got  %s (%v)\n want %s", v, got, err, want)
		}
	}
	if _, err := AppendJSON(nil, map[string]any{"x": math.NaN()}); err == nil {
		t.Error("NaN encoded")
	}
}

// FuzzAppendJSON checks AppendJSON against encoding/json on whatever JSON
// the fuzzer finds (decoded as attributes are).
func FuzzAppendJSON(f *testing.F) {
	f.Add(`{"a":[1,2.5,"x<y",{"b":null}],"c":true,"é":"\u00e9"}`)
	f.Fuzz(func(t *testing.T, in string) {
		var v map[string]any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		want, err := json.Marshal(v)
		if err != nil {
			return
		}
		got, err := AppendJSON(nil, v)
		if err != nil || string(got) != string(want) {
			t.Fatalf("AppendJSON(%s)\n got  %s (%v)\n want %s", in, got, err, want)
		}
	})
}
