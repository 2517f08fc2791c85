package authress

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Type is the connector type this package implements (the `type` key).
const Type = "authress"

// DefaultPageSize is the list `limit` used when page_size is 0 (the API's own default).
const DefaultPageSize = 100

// Connection types (Connection.type). The configuration accepts them in any case.
const (
	TypeOAuth2 = "OAUTH2"
	TypeSAML   = "SAML"
)

// Supported values of data.supportedContentType.
const (
	ContentTypeJSON = "application/json"
	ContentTypeForm = "application/x-www-form-urlencoded"
)

// Config is the YAML entry of a connector of type "authress", e.g.
//
//	connectors:
//	  - name: authress
//	    type: authress
//	    url: https://acme.api.authress.io   # Authress account or custom domain
//	    token: "${AUTHRESS_KEY}"             # service client access key (Bearer)
//	    prune: false
//	    connection:
//	      type: oauth2
//	      authenticationUrl: https://acme.okta.com/oauth2/v1/authorize
//	      tokenUrl: https://acme.okta.com/oauth2/v1/token
//	      clientId: abc
//	      clientSecret: "${OKTA_CLIENT_SECRET}"
type Config struct {
	connectors.Base `yaml:",inline"`
	// Connection is the SSO connection the tenant must have. Only the fields set
	// here are managed: a field left empty is neither compared nor changed.
	Connection ConnectionSpec `yaml:"connection"`
	// ConnectionID optionally pins the Authress connection to converge (for a
	// connection made by hand before the bridge). When it does not exist the
	// adapter falls back to its marker lookup and creates one if needed; the API
	// assigns ids, so the new connection gets the server's id.
	ConnectionID string `yaml:"connection_id"`
	// Prune lets Prune delete connections the bridge created for a tenant or
	// connector that no longer exists. Default false: never delete.
	Prune bool `yaml:"prune"`
	// PageSize is the `limit` of list calls; 0 means DefaultPageSize.
	PageSize int `yaml:"page_size"`
}

// ConnectionSpec is the desired Authress connection (the Connection model of the
// ConnectionsApi; YAML keys are the API's JSON names).
type ConnectionSpec struct {
	// Type is oauth2 (default) or saml, in any case; sent upper-case.
	Type string `yaml:"type"`
	// AuthenticationURL is where users log in: the OAuth authorization URL or the
	// SAML SSO URL. Required.
	AuthenticationURL string `yaml:"authenticationUrl"`
	// TokenURL is the OAuth token exchange URL. Required for oauth2.
	TokenURL string `yaml:"tokenUrl"`
	// IssuerURL is the JWT iss (OAuth) or the SAML Entity ID.
	IssuerURL string `yaml:"issuerUrl"`
	// ProviderCertificate is the provider's SAML public certificate (PEM).
	ProviderCertificate string `yaml:"providerCertificate"`
	// ClientID is the provider's client id. Required for oauth2.
	ClientID string `yaml:"clientId"`
	// ClientSecret is the provider's client secret. It is redacted from every
	// error and never logged. When empty the adapter leaves the stored secret alone.
	ClientSecret string `yaml:"clientSecret"`
	// Data is the connection's "data" object.
	Data DataSpec `yaml:"data"`
	// DefaultConnectionProperties is the connection's "defaultConnectionProperties".
	DefaultConnectionProperties DefaultsSpec `yaml:"defaultConnectionProperties"`
	// Tags are extra tags for the connection; keys starting with "scim-bridge/"
	// are reserved for the ownership marker.
	Tags map[string]string `yaml:"tags"`
}

// DataSpec is the "data" object of a connection.
type DataSpec struct {
	TenantID           string `yaml:"tenantId"`
	DeveloperAccountID string `yaml:"developerAccountId"`
	// Name is the connection's name in the Authress management portal.
	Name string `yaml:"name"`
	// SupportedContentType is application/json or application/x-www-form-urlencoded.
	SupportedContentType string `yaml:"supportedContentType"`
	OIDCUserEndpointURL  string `yaml:"oidcUserEndpointUrl"`
	UserIDExpression     string `yaml:"userIdExpression"`
	// TrustIdentityUserID: nil leaves it alone.
	TrustIdentityUserID *bool `yaml:"trustIdentityUserId"`
}

// DefaultsSpec is the "defaultConnectionProperties" object of a connection.
type DefaultsSpec struct {
	// Scope: nil leaves it alone; "" removes the scopes.
	Scope *string `yaml:"scope"`
}

// Validate checks the configuration and returns every problem at once, each a
// *connectors.FieldError naming the YAML key.
func (c *Config) Validate() error {
	errs := c.Base.Validate(Type, "name", "url", "token")
	add := func(key, format string, args ...any) {
		errs = append(errs, &connectors.FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.PageSize < 0 {
		add("page_size", "must not be negative")
	}
	if c.ConnectionID != "" && (strings.ContainsAny(c.ConnectionID, "/?#") ||
		strings.TrimSpace(c.ConnectionID) != c.ConnectionID) {
		add("connection_id", "not a connection id: %q", c.ConnectionID)
	}
	errs = append(errs, c.Connection.validate("connection")...)
	return errors.Join(errs...)
}

func (s *ConnectionSpec) validate(prefix string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &connectors.FieldError{Key: prefix + "." + key, Msg: fmt.Sprintf(format, args...)})
	}
	typ := normalizeType(s.Type)
	if typ != TypeOAuth2 && typ != TypeSAML {
		add("type", "must be oauth2 or saml, got %q", s.Type)
	}
	if s.AuthenticationURL == "" {
		add("authenticationUrl", "required")
	}
	if typ == TypeOAuth2 {
		if s.TokenURL == "" {
			add("tokenUrl", "required for an oauth2 connection")
		}
		if s.ClientID == "" {
			add("clientId", "required for an oauth2 connection")
		}
	}
	for _, f := range []struct{ key, v string }{
		{"authenticationUrl", s.AuthenticationURL},
		{"tokenUrl", s.TokenURL},
		{"data.oidcUserEndpointUrl", s.Data.OIDCUserEndpointURL},
	} {
		if f.v != "" {
			if msg := checkURL(f.v); msg != "" {
				add(f.key, "%s", msg)
			}
		}
	}
	if ct := s.Data.SupportedContentType; ct != "" && ct != ContentTypeJSON && ct != ContentTypeForm {
		add("data.supportedContentType", "must be %s or %s, got %q", ContentTypeJSON, ContentTypeForm, ct)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		switch {
		case strings.TrimSpace(k) == "":
			add(fmt.Sprintf("tags[%q]", k), "empty tag key")
		case strings.HasPrefix(k, markerPrefix):
			add(fmt.Sprintf("tags[%q]", k), "keys starting with %q are reserved for the bridge", markerPrefix)
		}
	}
	return errs
}

// normalizeType maps the configured type to the API's enum ("" means oauth2).
func normalizeType(t string) string {
	if t == "" {
		return TypeOAuth2
	}
	return strings.ToUpper(strings.TrimSpace(t))
}

// checkURL returns why v is not an absolute http(s) URL, or "".
func checkURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "not a URL"
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an absolute http(s) URL"
	}
	return ""
}

// Open validates the configuration and returns the adapter for deps.Tenant.
func (c *Config) Open(ctx context.Context, deps connectors.Deps) (connectors.Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if deps.Tenant == "" {
		return nil, errors.New("authress: open: deps.Tenant is empty")
	}
	token := c.Token
	client, err := deps.NewClient(c.Base, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+token)
		// The vendor document's media type for every answer (links+json is
		// JSON with links); plain JSON stays acceptable.
		r.Header.Set("Accept", "application/links+json, application/json")
	}, c.Connection.ClientSecret)
	if err != nil {
		return nil, fmt.Errorf("authress: open: %w", err)
	}
	client.Observe = deps.ObserveHTTP
	if deps.Now != nil {
		client.Now = deps.Now
	}
	pageSize := c.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	conn := &connector{
		name:     c.Name,
		tenant:   deps.Tenant,
		client:   client,
		log:      deps.Logger,
		fixedID:  c.ConnectionID,
		prune:    c.Prune,
		pageSize: pageSize,
		secret:   c.Connection.ClientSecret,
	}
	conn.desired = desiredConnection(c.Connection)
	conn.wantTags = conn.markerTags()
	for k, v := range c.Connection.Tags {
		conn.wantTags[k] = v
	}
	conn.fingerprint = conn.specFingerprint()
	return conn, nil
}
