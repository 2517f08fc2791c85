package authress

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestDrift(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	scope := "openid"
	desired := desiredConnection(ConnectionSpec{
		Type: "oauth2", AuthenticationURL: "https://a", TokenURL: "https://t", ClientID: "c",
		Data:                        DataSpec{Name: "n", TrustIdentityUserID: &yes},
		DefaultConnectionProperties: DefaultsSpec{Scope: &scope},
	})
	want := map[string]string{TagTenant: "acme", TagConnector: "authress"}
	base := wireConnection{Type: "OAUTH2", AuthenticationURL: "https://a", TokenURL: "https://t", ClientID: "c",
		IssuerURL: "https://unmanaged", Data: &wireData{Name: "n", TrustIdentityUserID: &yes, UserIDExpression: "{sub}"},
		DefaultConnectionProperties: &wireDefaults{Scope: &scope},
		Tags:                        map[string]string{TagTenant: "acme", TagConnector: "authress", "x": "y"}}
	for _, tc := range []struct {
		name string
		mod  func(*wireConnection)
		want []string
	}{
		{"equal (type case and unmanaged fields ignored)", func(c *wireConnection) { c.Type = "oauth2" }, nil},
		{"tokenUrl", func(c *wireConnection) { c.TokenURL = "https://other" }, []string{"tokenUrl"}},
		{"type", func(c *wireConnection) { c.Type = "SAML" }, []string{"type"}},
		{"data missing", func(c *wireConnection) { c.Data = nil }, []string{"data.name", "data.trustIdentityUserId"}},
		{"bool flipped", func(c *wireConnection) { c.Data.TrustIdentityUserID = &no }, []string{"data.trustIdentityUserId"}},
		{"scope", func(c *wireConnection) { c.DefaultConnectionProperties = nil }, []string{"defaultConnectionProperties.scope"}},
		{"marker changed", func(c *wireConnection) { c.Tags[TagConnector] = "other" }, []string{"tags"}},
		{"no tags object: not compared", func(c *wireConnection) { c.Tags = nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := base
			d := *base.Data
			c.Data = &d
			c.Tags = map[string]string{}
			for k, v := range base.Tags {
				c.Tags[k] = v
			}
			tc.mod(&c)
			if got := drift(desired, c, want); !slices.Equal(got, tc.want) {
				t.Fatalf("drift %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpdateBody(t *testing.T) {
	t.Parallel()
	raw := json.RawMessage(`{"connectionId":"con_1","createdTime":"2020-01-01T00:00:00Z","lastUpdated":"2021-01-01T00:00:00Z","isActiveConnection":true,"links":{"self":{"href":"/x"}},
		"type":"OAUTH2","authenticationUrl":"https://old","clientSecret":"****",
		"userDataConfiguration":{"mode":"x"},"data":{"name":"by hand","tenantId":"t9"},"tags":{"team":"id"}}`)
	cur, err := decodeRemote(raw)
	if err != nil {
		t.Fatal(err)
	}
	desired := desiredConnection(ConnectionSpec{Type: "oauth2", AuthenticationURL: "https://new", ClientID: "c",
		Data: DataSpec{Name: "managed"}})
	tags := map[string]string{TagTenant: "acme", TagConnector: "authress"}

	for _, tc := range []struct {
		secret     string
		wantSecret string
	}{{"configured-secret", `"configured-secret"`}, {"", ""}} {
		body, err := updateBody(cur, desired, tc.secret, tags)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"connectionId", "createdTime", "lastUpdated", "isActiveConnection", "links"} {
			if _, ok := body[k]; ok {
				t.Fatalf("read-only key %s sent back", k)
			}
		}
		if string(body["clientSecret"]) != tc.wantSecret {
			t.Fatalf("clientSecret %s, want %q (an echoed secret must never be sent back)", body["clientSecret"], tc.wantSecret)
		}
		if string(body["authenticationUrl"]) != `"https://new"` || string(body["clientId"]) != `"c"` {
			t.Fatalf("managed fields not applied: %s %s", body["authenticationUrl"], body["clientId"])
		}
		if string(body["userDataConfiguration"]) != `{"mode":"x"}` {
			t.Fatalf("unmanaged field lost: %s", body["userDataConfiguration"])
		}
		var data map[string]string
		if err := json.Unmarshal(body["data"], &data); err != nil || data["name"] != "managed" || data["tenantId"] != "t9" {
			t.Fatalf("data not merged: %s", body["data"])
		}
		var gotTags map[string]string
		if err := json.Unmarshal(body["tags"], &gotTags); err != nil || gotTags["team"] != "id" || gotTags[TagTenant] != "acme" {
			t.Fatalf("tags not merged: %s", body["tags"])
		}
	}
}

func TestNextCursor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"connections":[],"pagination":{"next":{"cursor":"abc"}}}`, "abc"},
		{`{"connections":[],"links":{"next":{"href":"/v1/connections?limit=2&cursor=xyz"}}}`, "xyz"},
		{`{"connections":[],"pagination":{}}`, ""},
		{`{"connections":[]}`, ""},
	} {
		var p connectionPage
		if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
			t.Fatal(err)
		}
		if got := p.nextCursor(); got != tc.want {
			t.Fatalf("%s: cursor %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestSecretDrift(t *testing.T) {
	t.Parallel()
	const s = "the-secret"
	applied := appliedState(s, "", "con_1")
	masked := appliedState(s, "****", "con_1")
	for _, tc := range []struct {
		name       string
		configured string
		echo       string
		id         string
		prev       state
		want       bool
	}{
		{"not managed", "", "", "con_1", state{}, false},
		{"write-only, applied", s, "", "con_1", applied, false},
		{"write-only, no state", s, "", "con_1", state{}, true},
		{"write-only, state of another connection", s, "", "con_2", applied, true},
		{"configured secret rotated", "new-secret", "", "con_1", applied, true},
		{"echoed and equal, no state", s, s, "con_1", state{}, false},
		{"echoed and different, no state", s, "other", "con_1", state{}, true},
		{"masked echo unchanged", s, "****", "con_1", masked, false},
		{"masked echo changed by hand", s, "***x", "con_1", masked, true},
		{"unreadable state", s, "", "con_1", parseState(json.RawMessage(`{not json`)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, why := secretDrift(tc.configured, tc.echo, tc.id, tc.prev)
			if got != tc.want || (got && why == "") {
				t.Fatalf("drift %v (%q), want %v", got, why, tc.want)
			}
		})
	}
	if secretHash(s) == "" || secretHash(s) == secretHash("other") || secretHash("") != "" {
		t.Fatal("secretHash")
	}
}
