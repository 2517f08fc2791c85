package bimdata

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// convergeUser converges one SCIM user: provision when active, deprovision when
// inactive or deleted.
func (c *connector) convergeUser(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	st := decodeUserState(prev)
	if s.User != nil && s.User.Active {
		return c.provision(ctx, s.User, st, prev, opts)
	}
	return c.deprovision(ctx, s, st, prev, opts)
}

// provision makes sure the BIMData user exists and accepts the pending
// invitations of the user's emails.
func (c *connector) provision(ctx context.Context, u *connectors.User, st userState, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	emails := userEmails(u)
	if len(emails) == 0 {
		return prev, nil, nil // nothing to converge without an email
	}
	primary := emails[0]
	userID := prev.IDs[idUser]
	next := st
	var actions []connectors.Action
	// The BIMData user of a former primary email stays while the SCIM user is
	// active (deleting it would delete the clouds where it is alone) and is
	// remembered for its deprovisioning (userState.Former), unless the email
	// is its primary again.
	former := slices.Clone(st.Former)
	if st.Status == statePresent && st.Email != "" && !strings.EqualFold(st.Email, primary) && !containsFold(former, st.Email) {
		former = append(former, st.Email)
	}
	former = slices.DeleteFunc(former, func(e string) bool { return strings.EqualFold(e, primary) })

	// create_user answers 200 for an existing user, so this is also the lookup
	// after a crash; it is skipped when the record says it was already applied.
	if !st.is(statePresent, primary) {
		reason := "active SCIM user has no BIMData user"
		switch {
		case st.is(stateRemoved, primary):
			reason = "SCIM user reactivated"
		case st.Status == statePresent:
			reason = "SCIM user's email changed"
		}
		first, last := names(u, primary)
		act := connectors.Action{Op: connectors.OpCreate, Object: "user " + primary, Reason: reason}
		err := c.write(opts, &actions, &act, func() error {
			su, status, err := c.api.createUser(ctx, createUserRequest{Email: primary, Firstname: first, Lastname: last})
			if err != nil {
				return err
			}
			if status == http.StatusOK {
				act.Reason += " (it already existed)"
			}
			userID = ""
			if su.ID != 0 {
				userID = su.ID.String()
			}
			next = userState{Email: primary, Status: statePresent}
			return nil
		})
		if err != nil {
			return prev, actions, err
		}
		next.Emails, next.Former = emails, former
		if err := opts.Report(ctx, next.record(userID), act); err != nil {
			return next.record(userID), actions, err
		}
	}
	next.Emails, next.Former = emails, former
	result := next.record(userID)

	// The listing is at least as new as the change being converged (see
	// readAfter): an invitation created just before it, whose webhook or
	// user change caused this convergence, must not be missed.
	pending, err := c.cache.pending(ctx, c.readAfter(opts))
	if err != nil {
		return result, actions, err
	}
	for _, inv := range pending {
		if !containsFold(emails, inv.Email) {
			continue
		}
		if ok, err := c.stillPending(ctx, opts, inv); err != nil || !ok {
			if err != nil {
				return result, actions, err
			}
			continue
		}
		act := connectors.Action{Op: connectors.OpAccept, Object: invitationObject(inv), Reason: "email belongs to an active SCIM user"}
		if err := c.write(opts, &actions, &act, func() error { return c.answer(ctx, inv.ID, true) }); err != nil {
			return result, actions, err
		}
	}
	return result, actions, nil
}

// deprovision deletes the BIMData user of an inactive or deleted SCIM user
// (on_deactivate: delete) and denies the pending invitations of its emails
// (unknown_invitations: deny). An email that now belongs to another active SCIM
// user is left to that user.
func (c *connector) deprovision(ctx context.Context, s connectors.Subject, st userState, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	var emails []string
	if s.User != nil {
		emails = userEmails(s.User)
	} else {
		emails = slices.Clone(st.Emails)
	}
	// The BIMData user to remove: the one this subject converged last, else the
	// one its current email would name (the record may have been lost).
	target := st.Email
	if st.Status != statePresent && len(emails) > 0 {
		target = emails[0]
	}
	if target != "" && !containsFold(emails, target) {
		emails = append(emails, target)
	}
	if len(emails) == 0 {
		return prev, nil, nil // the subject never had an email this adapter knows
	}

	takenCache := map[string]bool{}
	takenByOther := func(email string) (bool, error) {
		key := strings.ToLower(email)
		if v, ok := takenCache[key]; ok || c.dir == nil {
			return v, nil
		}
		owner, err := c.dir.UserByEmail(ctx, email)
		if err != nil {
			return false, directoryError(err)
		}
		v := owner != nil && owner.Active && owner.ID != s.ID
		takenCache[key] = v
		return v, nil
	}

	next := st
	if s.User != nil {
		next.Emails = userEmails(s.User)
	}
	userID := prev.IDs[idUser]
	var actions []connectors.Action
	reason := "SCIM user deactivated"
	if s.User == nil {
		reason = "SCIM user deleted"
	}

	if c.deleteOnDeac && target != "" && !st.is(stateRemoved, target) && !st.is(stateReleased, target) {
		taken, err := takenByOther(target)
		if err != nil {
			return prev, actions, err
		}
		if taken {
			next.Email, next.Status = target, stateReleased
		} else {
			act := connectors.Action{Op: connectors.OpDelete, Object: "user " + target, Reason: reason}
			err := c.write(opts, &actions, &act, func() error {
				if err := c.deleteUser(ctx, target, &act); err != nil {
					return err
				}
				next.Email, next.Status = target, stateRemoved
				return nil
			})
			if err != nil {
				return prev, actions, err
			}
		}
	}
	var err error
	former := slices.DeleteFunc(slices.Clone(st.Former), func(e string) bool { return strings.EqualFold(e, target) })
	if next.Former, err = c.removeFormer(ctx, former, takenByOther, opts, &actions); err != nil {
		return next.record(userID), actions, err
	}
	result := next.record(userID)
	if !c.denyUnknown {
		return result, actions, nil
	}

	// As in provision: an invitation created before the change being
	// converged is denied by this convergence, not left pending.
	pending, err := c.cache.pending(ctx, c.readAfter(opts))
	if err != nil {
		return result, actions, err
	}
	for _, inv := range pending {
		if !containsFold(emails, inv.Email) {
			continue
		}
		taken, err := takenByOther(inv.Email)
		if err != nil {
			return result, actions, err
		}
		if taken {
			continue
		}
		if ok, err := c.stillPending(ctx, opts, inv); err != nil || !ok {
			if err != nil {
				return result, actions, err
			}
			continue
		}
		act := connectors.Action{Op: connectors.OpDeny, Object: invitationObject(inv), Reason: "email has no active SCIM user (" + reason + ")"}
		if err := c.write(opts, &actions, &act, func() error { return c.answer(ctx, inv.ID, false) }); err != nil {
			return result, actions, err
		}
	}
	return result, actions, nil
}

// removeFormer deletes, when a subject is deprovisioned, the BIMData users of
// its former primary emails (userState.Former) and returns those still to
// delete: the rest, from the one whose delete failed. An email another active
// SCIM user now owns (takenByOther) is left to it; with on_deactivate: ignore
// the bridge deletes no BIMData user and forgets them.
func (c *connector) removeFormer(ctx context.Context, former []string, takenByOther func(string) (bool, error), opts connectors.Options, actions *[]connectors.Action) ([]string, error) {
	if !c.deleteOnDeac {
		return nil, nil
	}
	for i, email := range former {
		taken, err := takenByOther(email)
		if err != nil {
			return former[i:], err
		}
		if taken {
			continue
		}
		act := connectors.Action{Op: connectors.OpDelete, Object: "user " + email, Reason: "former primary email of a deprovisioned SCIM user"}
		if err := c.write(opts, actions, &act, func() error { return c.deleteUser(ctx, email, &act) }); err != nil {
			return former[i:], err
		}
	}
	return nil, nil
}

// deleteUser deletes the BIMData user of email; one already absent counts as
// deleted, and act's reason says so. The cached invitation list stays:
// should the API drop the user's invitations with the user, denying them
// answers 404 (gone).
func (c *connector) deleteUser(ctx context.Context, email string, act *connectors.Action) error {
	err := c.api.deleteUser(ctx, email)
	if connectors.IsNotFound(err) {
		act.Reason += " (it was already absent)"
		return nil
	}
	return err
}

// stillPending re-reads an invitation of a listing right before it is
// answered: the listing may predate an answer another replica made (the
// invitation's own convergence, under its owner's claim). Dry runs trust the
// listing.
func (c *connector) stillPending(ctx context.Context, opts connectors.Options, inv invitation) (bool, error) {
	if opts.DryRun {
		return true, nil
	}
	cur, err := c.api.getInvitation(ctx, inv.ID)
	switch {
	case connectors.IsNotFound(err):
		c.cache.remove(inv.ID)
		return false, nil
	case err != nil:
		return false, err
	case cur.Status != statusPending:
		c.cache.remove(inv.ID)
		return false, nil
	}
	return true, nil
}

// answer accepts or denies one invitation and keeps the cache truthful. A 404
// means the invitation is gone: nothing left to answer.
func (c *connector) answer(ctx context.Context, id flexID, accept bool) error {
	if !c.answering.claim(id, c.now()) {
		return nil // another convergence of this connector answers it
	}
	var err error
	if accept {
		err = c.api.acceptInvitation(ctx, id)
	} else {
		err = c.api.denyInvitation(ctx, id)
	}
	switch {
	case err == nil || connectors.IsNotFound(err):
		c.cache.remove(id)
		c.answering.done(id, c.now())
		return nil
	default:
		c.cache.invalidate() // the write may or may not have happened
		c.answering.release(id)
		return err
	}
}

func invitationObject(inv invitation) string {
	if inv.Email == "" {
		return "invitation " + inv.ID.String()
	}
	return "invitation " + inv.ID.String() + " (" + inv.Email + ")"
}
