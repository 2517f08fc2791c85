package clip

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		wantLen int // upper bound of the result
		whole   bool
	}{
		{"short", 5, true},
		{strings.Repeat("a", Max), Max, true},
		{strings.Repeat("a", 1<<20), Max + 32, false},
		{strings.Repeat("é", 1<<10), Max + 32, false},
	}
	for _, tc := range cases {
		got := String(tc.in)
		if (got == tc.in) != tc.whole {
			t.Errorf("String(%d bytes) kept whole = %v, want %v", len(tc.in), got == tc.in, tc.whole)
		}
		if len(got) > tc.wantLen {
			t.Errorf("String(%d bytes) = %d bytes, want at most %d", len(tc.in), len(got), tc.wantLen)
		}
		if !utf8.ValidString(got) {
			t.Errorf("String(%d bytes) cut a rune: %q", len(tc.in), got[len(got)-20:])
		}
	}
	if got := Error(errors.New(strings.Repeat("x", 1<<20))); len(got) > ErrorMax+32 {
		t.Errorf("Error kept %d bytes", len(got))
	}
	if Error(nil) != "" {
		t.Error("Error(nil) not empty")
	}
}
