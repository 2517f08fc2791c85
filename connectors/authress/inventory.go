package authress

import (
	"context"
	"fmt"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Inventory streams every connection of the Authress account, following the
// list cursor to the end. A connection carrying a bridge marker is reported with
// Subject {tenant, <marker tenant>}, Connector <marker connector> and Managed; the connection pinned by
// connection_id with Subject {tenant, <this tenant>}; any other with no Subject
// and Managed false (hand-made: never pruned).
func (c *connector) Inventory(ctx context.Context, fn func(connectors.Observed) error) error {
	return c.eachConnection(ctx, func(r remote) error {
		o := connectors.Observed{ObjectID: r.conn.ConnectionID}
		if m, ok := markerOf(r.conn.Tags); ok {
			o.Subject = &connectors.Subject{Kind: connectors.SubjectTenant, ID: m.tenant}
			o.Connector = m.connector
			o.Managed = true
		} else if c.fixedID != "" && r.conn.ConnectionID == c.fixedID {
			o.Subject = &connectors.Subject{Kind: connectors.SubjectTenant, ID: c.tenant}
		}
		return fn(o)
	})
}

// Prune deletes the connection o.ObjectID when the bridge found that no
// configuration owns it. It does nothing (no action, no error) unless `prune` is
// on, and it re-reads the connection first: one that is already gone, carries no
// bridge marker (made by hand), or carries this connector's own marker (owned by
// the live configuration) is left alone. Which tenants and connectors still
// exist is the caller's knowledge: a marker naming another tenant or connector
// is taken as the caller's word that it is an orphan.
func (c *connector) Prune(ctx context.Context, o connectors.Observed, opts connectors.Options) ([]connectors.Action, error) {
	if o.ObjectID == "" {
		return nil, permanent("prune", "observed connection without id")
	}
	if !c.prune {
		c.log.Debug().Str("connection", o.ObjectID).Msg("authress prune disabled: connection kept")
		return nil, nil
	}
	cur, found, err := c.getConnection(ctx, o.ObjectID)
	if err != nil || !found {
		return nil, err
	}
	m, ok := markerOf(cur.conn.Tags)
	if !ok || c.ownedBy(cur.conn.Tags) {
		return nil, nil
	}
	action := connectors.Action{
		Op:     connectors.OpDelete,
		Object: "connection " + o.ObjectID,
		Reason: fmt.Sprintf("created for tenant %q connector %q, which no configuration owns", m.tenant, m.connector),
	}
	if opts.DryRun {
		return []connectors.Action{action}, nil
	}
	if _, err := c.client.Do(ctx, "DELETE", connectionPath(o.ObjectID), nil, nil); err != nil {
		if connectors.IsNotFound(err) {
			return nil, nil // already gone
		}
		return nil, fmt.Errorf("delete connection %s: %w", o.ObjectID, err)
	}
	c.log.Debug().Str("op", "delete").Str("connection", o.ObjectID).Msg("authress connection deleted")
	return []connectors.Action{action}, nil
}
