package bimdata

import (
	"encoding/json"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
)

func TestProject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	hash := func(c *connector, s connectors.Subject) string {
		b, err := json.Marshal(c.Project(s))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := hash(e.conn, userSubject(alice(true), "u1"))
	same := map[string]func(*connectors.User){
		"groups":      func(u *connectors.User) { u.Groups = []string{"Design Team"} },
		"external id": func(u *connectors.User) { u.ExternalID = "x-1" },
		"user name":   func(u *connectors.User) { u.UserName = "alice2" },
		"duplicate email entry": func(u *connectors.User) {
			u.Emails = append(u.Emails, "ALICE@example.com")
		},
	}
	for name, mut := range same {
		u := alice(true)
		mut(u)
		if got := hash(e.conn, userSubject(u, "u1")); got != base {
			t.Errorf("%s changed the projection: %s", name, got)
		}
	}
	differ := map[string]func(*connectors.User){
		"active":       func(u *connectors.User) { u.Active = false },
		"email":        func(u *connectors.User) { u.Email = "alice@new.example.com" },
		"second email": func(u *connectors.User) { u.Emails = u.Emails[:1] },
		"first name":   func(u *connectors.User) { u.GivenName = "Alicia" },
		"last name":    func(u *connectors.User) { u.FamilyName = "Hargreaves" },
	}
	for name, mut := range differ {
		u := alice(true)
		mut(u)
		if got := hash(e.conn, userSubject(u, "u1")); got == base {
			t.Errorf("%s did not change the projection", name)
		}
	}
	if hash(e.conn, userSubject(nil, "u1")) == base {
		t.Error("a deleted user projects like an active one")
	}
	ignoring := newEnv(t, envOpts{cfg: func(c *Config) { c.OnDeactivate = PolicyIgnore }})
	if hash(ignoring.conn, userSubject(alice(true), "u1")) == base {
		t.Error("the policies are not part of the projection")
	}
	if a, b := hash(e.conn, InvitationSubject(1)), hash(e.conn, InvitationSubject(2)); a == b {
		t.Error("two invitations project alike")
	}
}
