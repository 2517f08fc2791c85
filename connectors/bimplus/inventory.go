package bimplus

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// objectID names a membership for Observed.ObjectID: "project/<p>/member/<m>".
func objectID(project, member string) string {
	return "project/" + project + "/member/" + member
}

// parseObjectID splits an objectID.
func parseObjectID(id string) (project, member string, ok bool) {
	rest, ok := strings.CutPrefix(id, "project/")
	if !ok {
		return "", "", false
	}
	project, member, ok = strings.Cut(rest, "/member/")
	if !ok || project == "" || member == "" || strings.Contains(member, "/") {
		return "", "", false
	}
	return project, member, true
}

// mappedProjects returns every project the configuration maps, sorted.
func (c *connector) mappedProjects() []string { return mappedProjects(c.groups) }

// mappedProjects lists, sorted and once each, the projects groups map to.
func mappedProjects(groups map[string][]Grant) []string {
	var ps []string
	for _, grants := range groups {
		for _, g := range grants {
			ps = append(ps, g.Project)
		}
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// Inventory implements connectors.Inventory: every member of every mapped
// project, one GET per project (the listing is not paged), read afresh (the
// cached listings are refreshed on the way). A mapped project that
// does not exist (404) has no members. Managed is always false: which
// memberships the bridge manages is recorded per user, not downstream.
func (c *connector) Inventory(ctx context.Context, fn func(connectors.Observed) error) error {
	for _, p := range c.mappedProjects() {
		ms, err := c.listings.all(ctx, c.api, p, freshness{now: true})
		if connectors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := fn(connectors.Observed{Email: m.Member.Email, ObjectID: objectID(p, m.Member.ID)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Prune implements connectors.Pruner. Only with prune_unmanaged does it remove a
// membership no SCIM user owns, and only on a mapped project; otherwise it does
// nothing. The membership is looked up first (in the cached listing, or afresh
// in a dry run), so an absent one makes no write.
func (c *connector) Prune(ctx context.Context, o connectors.Observed, opts connectors.Options) ([]connectors.Action, error) {
	if !c.prune {
		return nil, nil
	}
	project, member, ok := parseObjectID(o.ObjectID)
	if !ok {
		return nil, permanent("prune", "not a bimplus membership: %q", o.ObjectID)
	}
	if !slices.Contains(c.mappedProjects(), project) {
		return nil, nil
	}
	ms, _, err := c.listings.view(ctx, c.api, project, "", []string{member}, readAfter(opts))
	if connectors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ms, func(m membership) bool { return m.Member.ID == member })
	if i < 0 {
		return nil, nil
	}
	m := ms[i]
	acts := []connectors.Action{action(connectors.OpDelete, project, describe(m.Member), "no SCIM user owns this membership (prune_unmanaged)")}
	if opts.DryRun {
		return acts, nil
	}
	if err := c.write(ctx, step{op: "delete", project: project, member: m.Member, role: role{ID: m.Role.ID}}, ""); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	c.log.Debug().Str("op", "delete").Str("project", project).Str("member", m.Member.ID).Msg("bimplus membership write")
	return acts, nil
}
