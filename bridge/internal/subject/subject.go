// Package subject maps between what the store keeps and what connectors
// converge: a stored SCIM user becomes a connectors.User, a connector subject
// becomes the work key that converges it, a subject's desired state is hashed,
// and a recorded sync state yields the connector's record. The fan-out worker,
// the reconciler and the webhook receiver share these rules.
package subject

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// User is the connector-facing view of a stored SCIM user and its groups.
func User(res *store.Resource, groups []store.GroupRef) *connectors.User {
	a := res.Attrs
	u := &connectors.User{ID: res.ID, Active: true}
	u.UserName, _ = a["userName"].(string)
	u.ExternalID, _ = a["externalId"].(string)
	u.DisplayName, _ = a["displayName"].(string)
	if n, ok := a["name"].(map[string]any); ok {
		u.GivenName, _ = n["givenName"].(string)
		u.FamilyName, _ = n["familyName"].(string)
	}
	if act, ok := a["active"].(bool); ok {
		u.Active = act
	}
	if es, ok := a["emails"].([]any); ok {
		for _, e := range es {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			v, _ := em["value"].(string)
			if v == "" {
				continue
			}
			if p, _ := em["primary"].(bool); p {
				u.Emails = append([]string{v}, u.Emails...)
			} else {
				u.Emails = append(u.Emails, v)
			}
		}
	}
	if len(u.Emails) > 0 {
		u.Email = u.Emails[0]
	} else if strings.Contains(u.UserName, "@") {
		// Okta and Entra commonly use the email as userName and may send no emails.
		u.Email = u.UserName
		u.Emails = []string{u.UserName}
	}
	for _, g := range groups {
		u.Groups = append(u.Groups, g.DisplayName)
	}
	sort.Strings(u.Groups)
	return u
}

// UserReader reads a user document with the groups it belongs to.
type UserReader interface {
	GetUserWithGroups(ctx context.Context, tenant, id string) (*store.Resource, []store.GroupRef, error)
}

// LoadUser returns the desired state of a user, nil when it no longer exists.
func LoadUser(ctx context.Context, st UserReader, tenantID, id string) (*connectors.User, error) {
	res, groups, err := st.GetUserWithGroups(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	return User(res, groups), nil
}

// DesiredHash hashes what a connector depends on in a subject, so a convergence
// whose input did not change since the last success is skipped.
func DesiredHash(c connectors.Connector, s connectors.Subject) string {
	var v any = s
	if p, ok := c.(connectors.Projector); ok {
		v = p.Project(s)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// DirectoryStore is what a Directory reads.
type DirectoryStore interface {
	UserReader
	FindUserIDsByEmail(ctx context.Context, tenant, email string) ([]string, error)
	FindUserIDByUserName(ctx context.Context, tenant, userName string) (string, error)
}

var _ connectors.UsersByEmailDirectory = (*directory)(nil)

// directory implements connectors.Directory on the store for one tenant.
type directory struct {
	st     DirectoryStore
	tenant string
}

// NewDirectory returns the user directory connectors of tenant use (look-ups by
// email), backed by st.
func NewDirectory(st DirectoryStore, tenantID string) connectors.Directory {
	return &directory{st: st, tenant: tenantID}
}

// UserByEmail returns the user with that email, preferring an active one.
func (d *directory) UserByEmail(ctx context.Context, email string) (*connectors.User, error) {
	ids, err := d.st.FindUserIDsByEmail(ctx, d.tenant, email)
	if err != nil {
		return nil, fmt.Errorf("find user by email: %w", err)
	}
	var found *connectors.User
	for _, id := range ids {
		u, err := LoadUser(ctx, d.st, d.tenant, id)
		if err != nil {
			return nil, err
		}
		if u == nil {
			continue
		}
		if u.Active {
			return u, nil
		}
		if found == nil {
			found = u
		}
	}
	return found, nil
}

// UsersByEmail returns every user with that email, active or not, oldest
// first (connectors.UsersByEmailDirectory): one index read, then one read per
// user found.
func (d *directory) UsersByEmail(ctx context.Context, email string) ([]connectors.User, error) {
	ids, err := d.st.FindUserIDsByEmail(ctx, d.tenant, email)
	if err != nil {
		return nil, fmt.Errorf("find users by email: %w", err)
	}
	out := make([]connectors.User, 0, len(ids))
	for _, id := range ids {
		u, err := LoadUser(ctx, d.st, d.tenant, id)
		if err != nil {
			return nil, err
		}
		if u != nil { // deleted since the index was read
			out = append(out, *u)
		}
	}
	return out, nil
}

// UserByUserName returns the user with that userName (case-insensitive), or
// nil (connectors.UserNameDirectory).
func (d *directory) UserByUserName(ctx context.Context, userName string) (*connectors.User, error) {
	id, err := d.st.FindUserIDByUserName(ctx, d.tenant, userName)
	if err != nil || id == "" {
		return nil, err
	}
	return LoadUser(ctx, d.st, d.tenant, id)
}

// WorkKey maps a connector subject to the queue key that converges it.
func WorkKey(tenantID, connector string, s connectors.Subject) store.WorkKey {
	switch s.Kind {
	case connectors.SubjectUser:
		return store.WorkKey{Tenant: tenantID, Kind: store.WorkUser, ID: s.ID}
	case connectors.SubjectTenant:
		return store.WorkKey{Tenant: tenantID, Kind: store.WorkTenant, ID: tenantID}
	default:
		return store.WorkKey{Tenant: tenantID, Kind: store.WorkObject, ID: connector + "/" + s.ID}
	}
}
