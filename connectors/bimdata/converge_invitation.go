package bimdata

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// subjectPrefix starts the SubjectObject id of an invitation: "invitation:<id>".
const subjectPrefix = "invitation:"

// InvitationSubject returns the subject of the invitation with that id.
func InvitationSubject(id int64) connectors.Subject {
	return connectors.Subject{Kind: connectors.SubjectObject, ID: subjectPrefix + strconv.FormatInt(id, 10)}
}

func parseInvitationSubject(id string) (flexID, error) {
	rest, ok := strings.CutPrefix(id, subjectPrefix)
	n, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || n <= 0 {
		return 0, &connectors.Error{Class: connectors.Permanent, Op: "bimdata converge", Msg: fmt.Sprintf("object %q is not %q followed by a positive integer", id, subjectPrefix)}
	}
	return flexID(n), nil
}

// Owner returns the SCIM user whose email an invitation subject's invitation
// is for, when it is pending and such a user exists: that user's convergence
// answers the same invitation, so the bridge converges the invitation only
// while holding the user's claim. Other subjects have no owner.
func (c *connector) Owner(ctx context.Context, s connectors.Subject) (*connectors.Subject, error) {
	if s.Kind != connectors.SubjectObject || c.dir == nil {
		return nil, nil
	}
	id, err := parseInvitationSubject(s.ID)
	if err != nil {
		return nil, nil // Converge reports it
	}
	inv, err := c.api.getInvitation(ctx, id)
	switch {
	case connectors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case inv.Status != statusPending || strings.TrimSpace(inv.Email) == "":
		return nil, nil
	}
	u, err := c.dir.UserByEmail(ctx, strings.TrimSpace(inv.Email))
	if err != nil {
		return nil, directoryError(err)
	}
	if u == nil {
		return nil, nil
	}
	return &connectors.Subject{Kind: connectors.SubjectUser, ID: u.ID}, nil
}

// convergeInvitation reads one invitation and, when it is pending, accepts it if
// its email belongs to an active SCIM user, else denies it (unknown_invitations:
// deny) or leaves it (ignore).
func (c *connector) convergeInvitation(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	id, err := parseInvitationSubject(s.ID)
	if err != nil {
		return prev, nil, err
	}
	inv, err := c.api.getInvitation(ctx, id)
	switch {
	case connectors.IsNotFound(err):
		c.cache.remove(id)
		return connectors.Record{}, nil, nil // gone: nothing to converge
	case err != nil:
		return prev, nil, err
	}
	if inv.ID == 0 {
		inv.ID = id
	}
	if inv.Status != statusPending {
		c.cache.remove(id)
		return invitationRecord(inv), nil, nil
	}
	if c.dir == nil {
		return prev, nil, &connectors.Error{Class: connectors.Permanent, Op: "bimdata converge", Msg: "no directory to look invitation emails up in"}
	}
	var owner *connectors.User
	if email := strings.TrimSpace(inv.Email); email != "" {
		if owner, err = c.dir.UserByEmail(ctx, email); err != nil {
			return prev, nil, directoryError(err)
		}
	}
	accept := owner != nil && owner.Active
	if !accept && !c.denyUnknown {
		return invitationRecord(inv), nil, nil
	}
	act := connectors.Action{Op: connectors.OpAccept, Object: invitationObject(inv), Reason: "email belongs to an active SCIM user"}
	next := statusAccepted
	if !accept {
		act.Op, act.Reason, next = connectors.OpDeny, "email has no active SCIM user", statusDenied
		if owner != nil {
			act.Reason = "email belongs to an inactive SCIM user"
		}
	}
	var actions []connectors.Action
	if err := c.write(opts, &actions, &act, func() error { return c.answer(ctx, inv.ID, accept) }); err != nil {
		return prev, actions, err
	}
	inv.Status = next
	return invitationRecord(inv), actions, nil
}
