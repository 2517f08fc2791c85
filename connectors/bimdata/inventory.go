package bimdata

import (
	"context"
	"slices"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// fetchPending lists the pending invitations (GET ?status=P). Invitations the
// server answers with another status are dropped, in case it ignores the filter.
func (c *connector) fetchPending(ctx context.Context) ([]invitation, error) {
	list, err := c.api.listInvitations(ctx, statusPending)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list, func(inv invitation) bool {
		return inv.Status != "" && inv.Status != statusPending
	}), nil
}

// Inventory streams every pending invitation as an invitation subject, with its
// email as the hint. The API's list is a single, unpaginated array. The listing
// also refreshes the invitation cache, so the user convergences of the same
// reconcile run reuse it.
func (c *connector) Inventory(ctx context.Context, fn func(connectors.Observed) error) error {
	sent := c.now()
	list, err := c.fetchPending(ctx)
	if err != nil {
		return err
	}
	c.cache.store(list, sent)
	for _, inv := range list {
		s := InvitationSubject(int64(inv.ID))
		o := connectors.Observed{
			Subject:  &connectors.Subject{Kind: s.Kind, ID: s.ID},
			Email:    inv.Email,
			ObjectID: s.ID,
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}
