package bimdata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Type is the connector type this package implements (the `type:` key).
const Type = "bimdata"

// Policy values of the configuration.
const (
	PolicyDeny   = "deny"
	PolicyIgnore = "ignore"
	PolicyDelete = "delete"
)

// DefaultInvitationCache is how long the list of pending invitations is reused
// when invitation_cache is not set.
const DefaultInvitationCache = 2 * time.Second

// Config is one bimdata connector entry of the bridge configuration, e.g.
//
//	name: bimdata
//	type: bimdata
//	url: https://api.bimdata.io      # base of /identity-provider/...
//	token: "${BIMDATA_TOKEN}"        # sent as "Authorization: Bearer <token>"
//	webhook_secret: "${BIMDATA_WEBHOOK_SECRET}"
//	unknown_invitations: deny        # deny | ignore
//	on_deactivate: delete            # delete | ignore
//	invitation_cache: 2s             # reuse of the pending-invitation list; 0s turns it off
type Config struct {
	connectors.Base `yaml:",inline"`
	// UnknownInvitations is what happens to a pending invitation whose email has
	// no active SCIM user: "deny" (the default when empty) or "ignore".
	UnknownInvitations string `yaml:"unknown_invitations"`
	// OnDeactivate is what happens to the BIMData user of a deactivated or deleted
	// SCIM user: "delete" (the default when empty) or "ignore". Their pending
	// invitations follow UnknownInvitations either way.
	OnDeactivate string `yaml:"on_deactivate"`
	// InvitationCache is how long (Go duration) one listing of pending invitations
	// is reused across user convergences of this connector; "" means
	// DefaultInvitationCache, "0s" lists on every convergence.
	InvitationCache string `yaml:"invitation_cache"`
}

// Validate reports every problem at once, each a *connectors.FieldError naming
// the YAML key.
func (c *Config) Validate() error {
	errs := c.Base.Validate(Type, "name", "url", "token")
	bad := func(key, format string, args ...any) {
		errs = append(errs, &connectors.FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	switch c.UnknownInvitations {
	case "", PolicyDeny, PolicyIgnore:
	default:
		bad("unknown_invitations", "must be %q or %q, got %q", PolicyDeny, PolicyIgnore, c.UnknownInvitations)
	}
	switch c.OnDeactivate {
	case "", PolicyDelete, PolicyIgnore:
	default:
		bad("on_deactivate", "must be %q or %q, got %q", PolicyDelete, PolicyIgnore, c.OnDeactivate)
	}
	if c.InvitationCache != "" {
		if d, err := time.ParseDuration(c.InvitationCache); err != nil || d < 0 {
			bad("invitation_cache", "must be a non-negative Go duration, got %q", c.InvitationCache)
		}
	}
	return errors.Join(errs...)
}

// Open validates the configuration, applies the defaults and returns the
// adapter. deps.Directory is needed to converge invitation subjects.
func (c *Config) Open(_ context.Context, deps connectors.Deps) (connectors.Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("bimdata %q: %w", c.Name, err)
	}
	token := strings.TrimSpace(c.Token)
	client, err := deps.NewClient(c.Base, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+token)
	}, token)
	if err != nil {
		return nil, fmt.Errorf("bimdata %q: %w", c.Name, err)
	}
	client.Observe = deps.ObserveHTTP
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	client.Now = now
	ttl := DefaultInvitationCache
	if c.InvitationCache != "" {
		ttl, _ = time.ParseDuration(c.InvitationCache) // checked by Validate
	}
	conn := &connector{
		name:         c.Name,
		api:          &api{c: client},
		dir:          deps.Directory,
		log:          deps.Logger,
		denyUnknown:  c.UnknownInvitations != PolicyIgnore,
		deleteOnDeac: c.OnDeactivate != PolicyIgnore,
	}
	conn.cache = newInvitationCache(ttl, now, conn.fetchPending)
	conn.now = now
	return conn, nil
}

var _ connectors.Config = (*Config)(nil)
