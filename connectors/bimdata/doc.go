// Package bimdata converges a tenant's BIMData identity provider (the SsoApi
// routes of the BIMData API) to the SCIM users of the tenant.
//
// # What it converges
//
// For a user subject (connectors.SubjectUser):
//   - An active SCIM user with an email has a BIMData user: create_user with the
//     primary email and firstname/lastname (the SCIM name parts, else the display
//     name split at its first space, else the email's local part). 201 (new) and
//     200 (already existing) both mean "there".
//   - The pending invitations of the active user's emails (primary and the
//     others, compared case-insensitively) are accepted.
//   - An inactive or deleted SCIM user's BIMData user is deleted
//     (on_deactivate: delete, the default; "ignore" keeps it), and the pending
//     invitations of its emails are denied (unknown_invitations: deny, the
//     default; "ignore" leaves them). A 404 from delete_user, deny or accept
//     means "already gone" and is success.
//
// For an invitation subject (connectors.SubjectObject with ID "invitation:<id>",
// see InvitationSubject): the invitation is read; when pending, it is accepted if
// Deps.Directory knows an active SCIM user with its email, else denied
// (unknown_invitations: deny) or left alone (ignore). An invitation that is gone
// or no longer pending needs nothing. This subject needs Deps.Directory.
//
// Capabilities: Projector (emails, active, names and the two policies), Inventory
// (every pending invitation as an invitation subject, with its email as the hint;
// the list is a single unpaginated array), EventHandler (EventInvitationCreated
// → the invitation's subject; other types → nil).
//
// # Routes called
//
//	GET    /identity-provider/invitation?status=P
//	GET    /identity-provider/invitation/{id}
//	POST   /identity-provider/invitation/{id}/accept
//	POST   /identity-provider/invitation/{id}/deny
//	POST   /identity-provider/user     {"email","firstname","lastname"}
//	DELETE /identity-provider/user     {"email"}
//
// relative to the configured url, with "Authorization: Bearer <token>", JSON
// bodies, and the shared HTTP discipline of connectors.Client (rate limit,
// per-request timeout, classified errors without credentials).
//
// # Record
//
// Record.State of a user subject keeps the email of the BIMData user it last
// converged, all the SCIM user's emails, and whether that user was created
// ("present"), deleted ("removed") or handed over ("released", below).
// Record.IDs["user"] is the BIMData user id create_user answered. A deleted SCIM
// user reaches the adapter without any email, so the recorded email is the only
// way to delete its BIMData user and deny its invitations; with no recorded
// email there is nothing to do. Record.State of an invitation subject keeps the
// invitation's email and its status as last seen or made.
//
// # Assumptions beyond the vendor document
//
//   - The API has no route to read a user. create_user is therefore skipped when
//     the record says it was applied for the same email (a repeated call would
//     change nothing), and doubles as the lookup after a crash (it answers 200 for
//     an existing user). A BIMData user deleted out of band while the record says
//     "present" is recreated only when the record is lost or the email changes.
//     delete_user is skipped when the record says that email was removed; with
//     no record the user is deleted anyway (the safe side for deprovisioning).
//   - create_user does not update an existing user, so name changes are not
//     propagated (the API has no update route).
//   - When a user's email changes, a BIMData user is created for the new email;
//     the one of the old email is not deleted while the user is active
//     (delete_user also deletes the clouds where the user is alone), and its
//     pending invitations are left to the invitation subjects of the next
//     reconciliation. The record keeps the old email (State "former"), so the
//     user's deprovisioning deletes that BIMData user too: no account made for
//     the person keeps access after it.
//   - Before deleting a user or denying an invitation for an inactive or deleted
//     SCIM user, the email is looked up in Deps.Directory: when another active
//     SCIM user has it (an IdP that deletes and recreates a user), nothing is
//     deleted or denied and the record says "released".
//   - Invitations in a status other than A, D or P (newer API versions know "W",
//     accepted and waiting for the first login) are not pending.
//
// # Invitation cache
//
// One listing of pending invitations is reused for invitation_cache (default
// DefaultInvitationCache, "0s" turns it off) by all the user convergences of the
// connector, with concurrent misses sharing one request, so that bulk
// provisioning costs one listing per interval instead of one per user. A
// listing serves a convergence only if its GET was sent at or after
// connectors.Options.ReadAfter (when the change being converged was noted):
// an invitation created before the change that caused the convergence is
// always in the list it works from, and the users of a burst marked together
// still share one listing sent after their marks. The adapter's own writes
// keep it truthful: an accept or deny removes the invitation; a failed write
// and an invitation webhook drop the list. A stale entry costs nothing worse
// than a 404 (gone) on accept or deny. An invitation created downstream later
// than the change being converged is handled by its webhook (the invitation
// subject always reads the invitation itself) or at the next listing.
// Inventory refreshes the cache.
package bimdata
