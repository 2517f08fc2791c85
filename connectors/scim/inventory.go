package scim

import (
	"context"
	"fmt"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// maxPages bounds one inventory walk, against a server that never ends a list.
const maxPages = 100_000

// Inventory streams every active downstream user, following startIndex/count
// pages (RFC 7644 §3.4.2.4) to the end of totalResults. Managed is always false
// (see the package documentation); UserName, ExternalID and Email are hints for the
// bridge, ObjectID is the downstream id.
func (c *connector) Inventory(ctx context.Context, fn func(connectors.Observed) error) error {
	start := 1
	for range maxPages {
		page, err := c.api.list(ctx, "", start, PageSize)
		if err != nil {
			return fmt.Errorf("list users from %d: %w", start, err)
		}
		if page.StartIndex != 0 && page.StartIndex != start {
			return &connectors.Error{Class: connectors.Permanent, Op: "GET /Users", Msg: fmt.Sprintf("asked for startIndex %d, got %d", start, page.StartIndex)}
		}
		for i := range page.Resources {
			u := &page.Resources[i]
			if u.ID == "" || !u.active() {
				continue
			}
			if err := fn(connectors.Observed{UserName: u.UserName, ExternalID: u.ExternalID, Email: u.email(), ObjectID: u.ID}); err != nil {
				return err
			}
		}
		n := len(page.Resources)
		if n == 0 {
			return nil
		}
		start += n
		if page.TotalResults > 0 && start > page.TotalResults {
			return nil
		}
		if page.TotalResults <= 0 && n < PageSize {
			return nil
		}
	}
	return &connectors.Error{Class: connectors.Permanent, Op: "GET /Users", Msg: fmt.Sprintf("list did not end after %d pages", maxPages)}
}

// Prune deactivates (DELETE) the orphan o.ObjectID when prune is configured; it
// reads the user first, so one already inactive or gone costs no write. With
// prune off it does nothing.
func (c *connector) Prune(ctx context.Context, o connectors.Observed, opts connectors.Options) ([]connectors.Action, error) {
	if !c.prune {
		return nil, nil
	}
	if o.ObjectID == "" {
		return nil, &connectors.Error{Class: connectors.Permanent, Op: "prune", Msg: "observed object has no id"}
	}
	u, err := c.api.get(ctx, o.ObjectID)
	if connectors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", o.ObjectID, err)
	}
	if !u.active() {
		return nil, nil
	}
	act := connectors.Action{Op: connectors.OpDelete, Object: object(u), Reason: "no SCIM user owns it: deactivate"}
	if err := c.deactivate(ctx, u.ID, act, opts); err != nil {
		return nil, err
	}
	return []connectors.Action{act}, nil
}
