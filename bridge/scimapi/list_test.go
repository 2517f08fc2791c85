package scimapi

import (
	"testing"

	"github.com/scim-bridge/scim-bridge/filter"
)

// TestOwnFilter: a root query runs on each type with the type's own compiled
// filter (its own index plan) when it can, and skips a type whose plan only
// looks up attributes the type lacks.
func TestOwnFilter(t *testing.T) {
	t.Parallel()
	types, err := newResourceTypes(Extensions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		expr            string
		rt              *resourceType
		wantOwn, wantNo bool
	}{
		{`userName eq "x"`, types.user, true, false},
		{`userName eq "x"`, types.group, false, true},
		{`displayName eq "x"`, types.group, true, false},
		{`userName eq "x" or displayName eq "y"`, types.group, false, false},
		{`userName eq "x" and displayName eq "y"`, types.group, false, true},
		{`not (userName eq "x")`, types.group, false, false}, // needs a scan: matches every group
		{`members.value eq "u"`, types.user, false, false},   // not planned on the union schema: scanned
		{`id eq "x" and members.value eq "u"`, types.user, false, false},
	} {
		root, err := filter.Compile(types.root, c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		f, none := ownFilter(c.rt, root, c.expr)
		if none != c.wantNo || (f != root) != c.wantOwn {
			t.Errorf("%s on %s: own %v none %v, want own %v none %v", c.expr, c.rt.kind, f != root, none, c.wantOwn, c.wantNo)
		}
	}
}
