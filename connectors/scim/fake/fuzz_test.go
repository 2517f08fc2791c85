package fake

import "testing"

// FuzzParseFilter: any input parses or is rejected, never panics, and a parsed
// filter evaluates.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "a"`, `emails[type eq "work" and value eq "x"] and userName eq "b"`,
		`(active eq true)`, `userName eq "a\"b\\c"`, `a or b`, `[`, `"`, `emails[`, `userName eq 1e3`,
	} {
		f.Add(s)
	}
	u := &User{ID: "1", UserName: "a", Email: "x", Active: true}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err == nil {
			e.match(u)
		}
	})
}
