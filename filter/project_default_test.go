package filter

import (
	"reflect"
	"strings"
	"testing"
)

// TestProjectExtOf: extOf finds the extension ext finds, for keys of every
// case and for keys that strings.ToLower changes in length.
func TestProjectExtOf(t *testing.T) {
	t.Parallel()
	keys := []string{
		"", "id", "userName", "USERNAME", enterpriseURN, strings.ToUpper(enterpriseURN), strings.ToLower(enterpriseURN),
		"urn:\u0130etf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Use",
		"urn:example:odd:1.0", "urn:example:ODD:1.0", "urn:example:Odd:1.0", "URN:X", "urn:x", "urn:y", "urn:exämple:\u212a",
		"urn:exämple:k", "urn:exÄmple:K", "urn:\u212a", "\u212a", "urn:x\xff", "u\xff", "\xff\xff",
	}
	for _, rs := range []*ResourceSchema{userRS, hiddenRS(t), groupRS, oddIDsRS(t, false), oddIDsRS(t, true)} {
		s := rs.impl
		ids := s.extIDs()
		for _, k := range keys {
			if got, want := s.extOf(k, ids), s.ext(k); got != want {
				t.Errorf("extOf(%q) = %v, want %v", k, got, want)
			}
		}
	}
}

// TestProjectDefaultTopLevel: the default projection's map is the caller's
// own (adding and removing keys leaves the input as it was), holds the
// values of the input that it keeps whole and leaves out password.
func TestProjectDefaultTopLevel(t *testing.T) {
	t.Parallel()
	res := decode(t, oktaUserView)
	res["password"] = "secret"
	want := decode(t, oktaUserView)
	want["password"] = "secret"
	out := Project(userRS, res, nil, nil)
	if _, ok := out["password"]; ok || len(out) != len(res)-1 {
		t.Fatalf("projection kept %v", keysOf(out))
	}
	for k, v := range out {
		if !reflect.DeepEqual(v, res[k]) {
			t.Errorf("%s = %#v, want %#v", k, v, res[k])
		}
	}
	delete(out, "emails")
	out["nickName"] = "changed"
	out["extra"] = true
	if !reflect.DeepEqual(res, want) {
		t.Errorf("input changed through the projection's map: %v", res)
	}
}
