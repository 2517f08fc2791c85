package authress

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
)

// wireConnection is the Connection model of the ConnectionsApi as the adapter
// reads and writes it. Empty fields are omitted, so a desired wireConnection
// carries exactly the managed fields.
type wireConnection struct {
	Type                        string            `json:"type,omitempty"`
	ConnectionID                string            `json:"connectionId,omitempty"`
	AuthenticationURL           string            `json:"authenticationUrl,omitempty"`
	TokenURL                    string            `json:"tokenUrl,omitempty"`
	IssuerURL                   string            `json:"issuerUrl,omitempty"`
	ProviderCertificate         string            `json:"providerCertificate,omitempty"`
	ClientID                    string            `json:"clientId,omitempty"`
	ClientSecret                string            `json:"clientSecret,omitempty"`
	Data                        *wireData         `json:"data,omitempty"`
	DefaultConnectionProperties *wireDefaults     `json:"defaultConnectionProperties,omitempty"`
	Tags                        map[string]string `json:"tags,omitempty"`
}

type wireData struct {
	TenantID             string `json:"tenantId,omitempty"`
	DeveloperAccountID   string `json:"developerAccountId,omitempty"`
	Name                 string `json:"name,omitempty"`
	SupportedContentType string `json:"supportedContentType,omitempty"`
	OIDCUserEndpointURL  string `json:"oidcUserEndpointUrl,omitempty"`
	UserIDExpression     string `json:"userIdExpression,omitempty"`
	TrustIdentityUserID  *bool  `json:"trustIdentityUserId,omitempty"`
}

type wireDefaults struct {
	Scope *string `json:"scope,omitempty"`
}

// remote is one connection read from the API: its typed view for comparing and
// its raw JSON object, so an update can keep the fields the adapter does not manage.
type remote struct {
	conn wireConnection
	raw  map[string]json.RawMessage
}

func decodeRemote(b json.RawMessage) (remote, error) {
	var r remote
	if err := json.Unmarshal(b, &r.raw); err != nil {
		return remote{}, fmt.Errorf("decode connection: %w", err)
	}
	if err := json.Unmarshal(b, &r.conn); err != nil {
		return remote{}, fmt.Errorf("decode connection: %w", err)
	}
	return r, nil
}

// desiredConnection is the spec as the API's JSON, without secret and tags
// (those are handled apart).
func desiredConnection(s ConnectionSpec) wireConnection {
	w := wireConnection{
		Type:                normalizeType(s.Type),
		AuthenticationURL:   s.AuthenticationURL,
		TokenURL:            s.TokenURL,
		IssuerURL:           s.IssuerURL,
		ProviderCertificate: s.ProviderCertificate,
		ClientID:            s.ClientID,
	}
	d := wireData{
		TenantID:             s.Data.TenantID,
		DeveloperAccountID:   s.Data.DeveloperAccountID,
		Name:                 s.Data.Name,
		SupportedContentType: s.Data.SupportedContentType,
		OIDCUserEndpointURL:  s.Data.OIDCUserEndpointURL,
		UserIDExpression:     s.Data.UserIDExpression,
		TrustIdentityUserID:  s.Data.TrustIdentityUserID,
	}
	if d != (wireData{}) {
		w.Data = &d
	}
	if s.DefaultConnectionProperties.Scope != nil {
		scope := *s.DefaultConnectionProperties.Scope
		w.DefaultConnectionProperties = &wireDefaults{Scope: &scope}
	}
	return w
}

// drift lists the managed fields where actual differs from desired (JSON names).
// Only fields set in desired are compared. Tags are compared only when the API
// answered a tags object: an API that keeps no tags cannot carry the marker, and
// comparing would rewrite the connection on every round.
func drift(desired, actual wireConnection, wantTags map[string]string) []string {
	var out []string
	cmp := func(name, want, got string) {
		if want != "" && want != got {
			out = append(out, name)
		}
	}
	if !strings.EqualFold(desired.Type, actual.Type) {
		out = append(out, "type")
	}
	cmp("authenticationUrl", desired.AuthenticationURL, actual.AuthenticationURL)
	cmp("tokenUrl", desired.TokenURL, actual.TokenURL)
	cmp("issuerUrl", desired.IssuerURL, actual.IssuerURL)
	cmp("providerCertificate", desired.ProviderCertificate, actual.ProviderCertificate)
	cmp("clientId", desired.ClientID, actual.ClientID)
	if d := desired.Data; d != nil {
		a := actual.Data
		if a == nil {
			a = &wireData{}
		}
		cmp("data.tenantId", d.TenantID, a.TenantID)
		cmp("data.developerAccountId", d.DeveloperAccountID, a.DeveloperAccountID)
		cmp("data.name", d.Name, a.Name)
		cmp("data.supportedContentType", d.SupportedContentType, a.SupportedContentType)
		cmp("data.oidcUserEndpointUrl", d.OIDCUserEndpointURL, a.OIDCUserEndpointURL)
		cmp("data.userIdExpression", d.UserIDExpression, a.UserIDExpression)
		if d.TrustIdentityUserID != nil &&
			(a.TrustIdentityUserID == nil || *a.TrustIdentityUserID != *d.TrustIdentityUserID) {
			out = append(out, "data.trustIdentityUserId")
		}
	}
	if d := desired.DefaultConnectionProperties; d != nil && d.Scope != nil {
		a := actual.DefaultConnectionProperties
		if a == nil || a.Scope == nil || *a.Scope != *d.Scope {
			out = append(out, "defaultConnectionProperties.scope")
		}
	}
	if actual.Tags != nil {
		for k, v := range wantTags {
			if got, ok := actual.Tags[k]; !ok || got != v {
				out = append(out, "tags")
				break
			}
		}
	}
	return out
}

// createBody is the POST body: every managed field, the secret and the tags.
func createBody(desired wireConnection, secret string, tags map[string]string) wireConnection {
	b := desired
	b.ClientSecret = secret
	b.Tags = maps.Clone(tags)
	return b
}

// readOnlyKeys are answer fields an update must not send back: the id, the
// links and the times the API sets (the vendor's published models mark
// createdTime, lastUpdated and isActiveConnection read-only).
var readOnlyKeys = []string{"connectionId", "createdTime", "lastUpdated", "isActiveConnection", "links"}

// updateBody is the PUT body: the connection as read (so fields the adapter does
// not manage survive a replacing PUT), overlaid with the managed fields, the
// configured secret and the merged tags. A secret the API echoed is never sent
// back (it may be masked): without a configured secret the body has none and
// the API keeps the stored one.
func updateBody(cur remote, desired wireConnection, secret string, tags map[string]string) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(cur.raw)+4)
	for k, v := range cur.raw {
		out[k] = v
	}
	for _, k := range readOnlyKeys {
		delete(out, k)
	}
	delete(out, "clientSecret")

	want := desired
	want.ClientSecret = secret
	b, err := json.Marshal(want)
	if err != nil {
		return nil, fmt.Errorf("encode connection: %w", err)
	}
	var overlay map[string]json.RawMessage
	if err := json.Unmarshal(b, &overlay); err != nil {
		return nil, fmt.Errorf("encode connection: %w", err)
	}
	for k, v := range overlay {
		if k == "data" || k == "defaultConnectionProperties" {
			merged, err := mergeObjects(out[k], v)
			if err != nil {
				return nil, err
			}
			v = merged
		}
		out[k] = v
	}

	allTags := map[string]string{}
	if raw, ok := out["tags"]; ok {
		// Tags of another shape are replaced rather than failing the update.
		_ = json.Unmarshal(raw, &allTags)
		if allTags == nil {
			allTags = map[string]string{}
		}
	}
	for k, v := range tags {
		allTags[k] = v
	}
	tb, err := json.Marshal(allTags)
	if err != nil {
		return nil, fmt.Errorf("encode tags: %w", err)
	}
	out["tags"] = tb
	return out, nil
}

// mergeObjects overlays the keys of the JSON object top onto the JSON object
// base (base may be absent, null or not an object: then top alone).
func mergeObjects(base, top json.RawMessage) (json.RawMessage, error) {
	var b, t map[string]json.RawMessage
	if len(base) > 0 {
		_ = json.Unmarshal(base, &b) // not an object: replaced
	}
	if err := json.Unmarshal(top, &t); err != nil {
		return nil, fmt.Errorf("encode connection: %w", err)
	}
	if b == nil {
		b = map[string]json.RawMessage{}
	}
	for k, v := range t {
		b[k] = v
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode connection: %w", err)
	}
	return out, nil
}
