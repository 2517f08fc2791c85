package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Type is the connector type this package implements (the `type:` key).
const Type = "scim"

// Values of match_by.
const (
	MatchByUserName   = "userName"
	MatchByExternalID = "externalId"
)

// PageSize is the count the adapter asks for when listing (the downstream default).
const PageSize = 100

// Config is one scim connector entry of the bridge configuration:
//
//	connectors:
//	  - name: odm
//	    type: scim
//	    url: http://127.0.0.1:9004/api/v1/scim   # the /Users routes live under it
//	    token: "${ODM_TOKEN}"                    # sent as "Authorization: bearer <token>"
//	    match_by: userName                       # userName | externalId
//	    prune: false
type Config struct {
	connectors.Base `yaml:",inline"`
	// MatchBy names the attribute a downstream user is looked up by when no id is
	// recorded: "userName" (the default when empty) or "externalId". With
	// externalId, a user without one is looked up by userName.
	MatchBy string `yaml:"match_by"`
	// Prune lets reconciliation deactivate downstream users no SCIM user owns. The
	// adapter cannot tell which users it created (Observed.Managed is always false),
	// so with Prune false (the default) Prune does nothing.
	Prune bool `yaml:"prune"`
}

// Validate reports every problem at once, each a *connectors.FieldError naming
// the YAML key.
func (c *Config) Validate() error {
	errs := c.Base.Validate(Type, "name", "url", "token")
	if _, ok := matchBy(c.MatchBy); !ok {
		errs = append(errs, &connectors.FieldError{Key: "match_by",
			Msg: fmt.Sprintf("must be %q or %q, got %q", MatchByUserName, MatchByExternalID, c.MatchBy)})
	}
	return errors.Join(errs...)
}

// matchBy normalises match_by ("" means userName; the spelling is case-insensitive).
func matchBy(v string) (string, bool) {
	switch {
	case v == "" || strings.EqualFold(v, MatchByUserName):
		return MatchByUserName, true
	case strings.EqualFold(v, MatchByExternalID):
		return MatchByExternalID, true
	}
	return "", false
}

// Open validates the configuration and returns the adapter. deps.Client nil means
// connectors.NewHTTPClient; the logger gets the connector's name and tenant.
func (c *Config) Open(_ context.Context, deps connectors.Deps) (connectors.Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	mb, _ := matchBy(c.MatchBy)
	token := c.Token
	authorize := func(r *http.Request) {
		r.Header.Set("Authorization", "bearer "+token)
		r.Header.Set("Accept", "application/scim+json, application/json")
	}
	client, err := deps.NewClient(c.Base, authorize)
	if err != nil {
		return nil, err
	}
	client.Observe = deps.ObserveHTTP
	client.Now = deps.Now
	return &connector{
		name:    c.Name,
		matchBy: mb,
		prune:   c.Prune,
		api:     &api{http: client},
		log:     deps.Logger,
		dir:     deps.Directory,
	}, nil
}
