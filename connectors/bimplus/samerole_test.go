package bimplus

import "testing"

// TestSameRole: a listed role is the wanted one by id; by name only without
// an id, or with an id none of the team's roles has (the vendor document's
// examples); never when its id is another role of the team, whatever the name.
func TestSameRole(t *testing.T) {
	t.Parallel()
	editor := role{ID: "f11d32e2", Name: "Project_Editor"}
	c := &connector{roles: &roleCache{roles: []role{editor, {ID: "custom-editor", Name: "PROJECT_EDITOR"}, {ID: "a618d075", Name: "Project_Viewer"}}}}
	for _, tc := range []struct {
		name string
		have roleRef
		want bool
	}{
		{"same id", roleRef{ID: "f11d32e2"}, true},
		{"no id, same name in another case", roleRef{Name: "project_editor"}, true},
		{"unknown id, same name (the document's example)", roleRef{ID: "e11d32e2", Name: "Project_Editor"}, true},
		{"unknown id, name in another case", roleRef{ID: "e11d32e2", Name: "PROJECT_EDITOR"}, false},
		{"another role of the team with a name differing in case", roleRef{ID: "custom-editor", Name: "PROJECT_EDITOR"}, false},
		{"another role of the team under the same name", roleRef{ID: "a618d075", Name: "Project_Editor"}, false},
		{"no id, another name", roleRef{Name: "Project_Viewer"}, false},
	} {
		if got := c.sameRole(tc.have, editor); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
