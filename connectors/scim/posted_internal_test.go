package scim

import "testing"

// TestPostedByName: the account a POST of a userName without externalId may
// have made has that userName and no externalId; the exact spelling wins over
// a case variant, and two case variants without it are told apart by nothing
// (a server matching userName case-insensitively, RFC 7643 §4.1.1, may list
// them all).
func TestPostedByName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		found []remoteUser
		want  string // id, "" for none
	}{
		{"none", nil, ""},
		{"exact, no externalId", []remoteUser{{ID: "1", UserName: "alice"}}, "1"},
		{"exact with an externalId", []remoteUser{{ID: "1", UserName: "alice", ExternalID: "hr-9"}}, ""},
		{"one case variant", []remoteUser{{ID: "1", UserName: "Alice"}}, "1"},
		{"two case variants", []remoteUser{{ID: "1", UserName: "Alice"}, {ID: "2", UserName: "ALICE"}}, ""},
		{"exact among case variants", []remoteUser{{ID: "1", UserName: "Alice"}, {ID: "2", UserName: "alice"}, {ID: "3", UserName: "ALICE"}}, "2"},
		{"case variant beside one with an externalId", []remoteUser{{ID: "1", UserName: "alice", ExternalID: "hr-9"}, {ID: "2", UserName: "ALICE"}}, "2"},
		{"another name (a server ignoring the filter)", []remoteUser{{ID: "1", UserName: "bob"}}, ""},
		{"no id", []remoteUser{{UserName: "alice"}}, ""},
	} {
		got := postedByName(tc.found, "alice")
		id := ""
		if got != nil {
			id = got.ID
		}
		if id != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, id, tc.want)
		}
	}
}
