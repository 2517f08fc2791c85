package fake

import (
	"encoding/json"
	"strings"
)

// Connection is an Authress SSO connection as the API stores and returns it
// (the Connection model of the ConnectionsApi). Field names are the JSON names
// of the API.
type Connection struct {
	// Type is the protocol, "OAUTH2" (the default) or "SAML".
	Type         string `json:"type,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	// AuthenticationURL is where the user logs in (OAuth authorization URL, SAML SSO URL).
	AuthenticationURL string `json:"authenticationUrl,omitempty"`
	// TokenURL is the OAuth token exchange URL.
	TokenURL string `json:"tokenUrl,omitempty"`
	// IssuerURL is the JWT iss (OAuth) or the Entity ID (SAML).
	IssuerURL string `json:"issuerUrl,omitempty"`
	// ProviderCertificate is the provider's SAML public certificate.
	ProviderCertificate string `json:"providerCertificate,omitempty"`
	ClientID            string `json:"clientId,omitempty"`
	// ClientSecret is write-only: answers carry it only with Options.ExposeSecrets.
	ClientSecret string `json:"clientSecret,omitempty"`
	// UserDataConfiguration is kept as sent; the fake does not interpret it.
	UserDataConfiguration       json.RawMessage              `json:"userDataConfiguration,omitempty"`
	Data                        *ConnectionData              `json:"data,omitempty"`
	DefaultConnectionProperties *DefaultConnectionProperties `json:"defaultConnectionProperties,omitempty"`
	// CreatedTime is set by the server (RFC 3339) and read-only.
	CreatedTime string `json:"createdTime,omitempty"`
	// Tags are free key/value pairs attached to the connection.
	Tags map[string]string `json:"tags,omitempty"`
}

// ConnectionData is the "data" object of a connection.
type ConnectionData struct {
	TenantID             string `json:"tenantId,omitempty"`
	DeveloperAccountID   string `json:"developerAccountId,omitempty"`
	Name                 string `json:"name,omitempty"`
	SupportedContentType string `json:"supportedContentType,omitempty"`
	OIDCUserEndpointURL  string `json:"oidcUserEndpointUrl,omitempty"`
	UserIDExpression     string `json:"userIdExpression,omitempty"`
	TrustIdentityUserID  *bool  `json:"trustIdentityUserId,omitempty"`
}

// DefaultConnectionProperties is the "defaultConnectionProperties" object.
type DefaultConnectionProperties struct {
	// Scope is the default OAuth scope; an empty string removes the scopes.
	Scope *string `json:"scope,omitempty"`
}

// clone returns a deep copy, so callers never share maps or pointers with the store.
func (c Connection) clone() Connection {
	out := c
	if c.UserDataConfiguration != nil {
		out.UserDataConfiguration = append(json.RawMessage(nil), c.UserDataConfiguration...)
	}
	if c.Data != nil {
		d := *c.Data
		if d.TrustIdentityUserID != nil {
			b := *d.TrustIdentityUserID
			d.TrustIdentityUserID = &b
		}
		out.Data = &d
	}
	if c.DefaultConnectionProperties != nil {
		p := *c.DefaultConnectionProperties
		if p.Scope != nil {
			s := *p.Scope
			p.Scope = &s
		}
		out.DefaultConnectionProperties = &p
	}
	if c.Tags != nil {
		out.Tags = make(map[string]string, len(c.Tags))
		for k, v := range c.Tags {
			out.Tags[k] = v
		}
	}
	return out
}

// equal reports whether two stored connections are identical, field by field.
func (c Connection) equal(o Connection) bool {
	a, errA := json.Marshal(c)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && string(a) == string(b)
}

// identity is what makes two connections "the same SSO connection": the
// protocol, where users log in, and the client (OAuth) or entity (SAML).
func (c Connection) identity() string {
	return strings.ToUpper(c.Type) + "\x00" + c.AuthenticationURL + "\x00" + c.ClientID + "\x00" + c.IssuerURL
}

// texts returns every text field, for the list `filter` (case-insensitive search
// through every text field). The client secret is not searchable.
func (c Connection) texts() []string {
	t := []string{c.Type, c.ConnectionID, c.AuthenticationURL, c.TokenURL, c.IssuerURL,
		c.ProviderCertificate, c.ClientID}
	if c.Data != nil {
		t = append(t, c.Data.TenantID, c.Data.DeveloperAccountID, c.Data.Name,
			c.Data.SupportedContentType, c.Data.OIDCUserEndpointURL, c.Data.UserIDExpression)
	}
	if c.DefaultConnectionProperties != nil && c.DefaultConnectionProperties.Scope != nil {
		t = append(t, *c.DefaultConnectionProperties.Scope)
	}
	for k, v := range c.Tags {
		t = append(t, k, v)
	}
	return t
}

// UserConnectionCredentials is the answer of the credentials route.
type UserConnectionCredentials struct {
	AccessToken string `json:"accessToken"`
}

// connectionCollection is the answer of the list route (ConnectionCollection).
type connectionCollection struct {
	Connections []Connection `json:"connections"`
	Pagination  pagination   `json:"pagination"`
	Links       links        `json:"links"`
}

type pagination struct {
	Next *paginationNext `json:"next,omitempty"`
}

type paginationNext struct {
	Cursor string `json:"cursor"`
}

type links struct {
	Self link  `json:"self"`
	Next *link `json:"next,omitempty"`
}

type link struct {
	Href string `json:"href"`
}

// apiError is the body of every error answer.
type apiError struct {
	ErrorCode string `json:"errorCode"`
	Title     string `json:"title"`
}
