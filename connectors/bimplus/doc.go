// Package bimplus converges Bimplus project role assignments (Bimplus API v2,
// "roles" and "project members") from SCIM group memberships.
//
// # What it converges
//
// The adapter handles user subjects only. A user's desired project roles are the
// union of the roles its groups map to in the configuration (Config.Groups). A
// group matches a mapping key exactly; a group with no exact key matches every
// key equal to it under Unicode case folding. When several groups grant roles on
// one project, the highest privilege wins: a role whose name contains "Admin"
// outranks one containing "Editor", which outranks one containing "Viewer"
// (case-insensitive); any other name ranks lowest, and equal ranks are broken by
// the smaller name, so the choice is deterministic. An inactive or deleted user
// has no desired roles.
//
// For each project concerned it looks the user up in the project's member list
// (see "Project member lists" below) and makes the minimal writes:
//   - POST   {url}/{team}/projects/{project}/members  to add a member that is absent,
//   - PUT    {url}/{team}/projects/{project}/members  to change a role that differs
//     (this also repairs a role changed by hand),
//   - DELETE {url}/{team}/projects/{project}/members  to remove a managed membership
//     no mapped group asks for any more.
//
// Roles are resolved by name from GET {url}/{team}/roles (exact name first, then
// a case-insensitive match), cached per connector for Config.RolesTTL and
// refreshed once when a configured name is not in the cache. A configured role
// the team does not have, or one that is not a project role (its "resources" list
// names no "UserRightProject"), is a permanent error naming the group key.
//
// # Users sharing an email
//
// A Bimplus member is found by email, so SCIM users whose email
// (connectors.User.Email, compared case-insensitively) is the same — a shared
// mailbox, one person with two IdP accounts — share one member. Its desired
// role on a project is the highest (in the order above) any of the active
// users with its email gets there, and a membership is removed only when none
// of them asks for it: user A in a group granting Project_Editor and user B in
// none keep the member an editor, whichever of the two converged last, and
// when A leaves the group a viewer role B's groups grant remains. A recorded
// member whose email no longer matches the user's (the user's email changed,
// or the user is deleted: the member's listed email is used) is likewise kept,
// at the role the users with that email want, instead of being removed.
//
// The other users are read from the bridge's directory
// (connectors.UsersByEmailDirectory; without one each user is converged on
// its own, as before) inside the member's lock, and only when the plan made
// from the user's own groups writes something they could change: a removal,
// or a role below the highest one mapped on that project. A convergence
// whose own plan writes nothing (every settled user with an email of its
// own) or only sets a project's highest role (a large group joining its
// mapping, as usually configured) reads nothing. The others read each member
// email they act on once: one lookup, two when the user's email has just
// changed. A user whose own groups ask for less than the member has because
// of another user sharing its email reads once per convergence, and the
// union says there is nothing to do.
//
// No convergence of the other users is needed when one of them changes: the
// change marks that user, whose convergence reads the others' current
// groups and sets the union, so the last convergence of any of them leaves
// the member right, and the recorded hash of a user (its own email, state and
// roles) still changes exactly when its share of the union does. A user whose
// own roles did not change is not converged again, and does not need to be.
// Replicas serialise convergences of one member only within a process; two
// replicas converging two users of one member at the same moment may still
// apply them in either order, as for any concurrent change of one member,
// until the next convergence or reconciliation of either.
//
// # Which memberships the bridge manages
//
// A membership becomes managed once the bridge has converged it: it created it,
// or a mapped group (of the user, or of a user sharing its email) asked for it
// and the bridge set or confirmed its role. The record of a user lists them
// (Record.IDs "project:<id>" → member id, and the roles applied in
// Record.State). A managed membership is removed when no mapped group asks for
// it any more, when the user is deactivated or deleted, and when its project is
// no longer mapped — unless a user sharing its email still asks for it (see
// above). Every other membership is left alone — a
// member added by hand on an unmapped project, or on a mapped project while no
// mapped group grants that user a role there — unless prune_unmanaged is set;
// then every membership of the user on a mapped project that no group asks for is
// removed, and Prune removes owner-less memberships found by Inventory on mapped
// projects. Adopting confirmed memberships (rather than only those the bridge
// created) keeps a crash between a POST and the saving of the record harmless:
// the retry finds the membership, does not POST again, and still manages it.
//
// # Project member lists
//
// The API reads a project's memberships only as the whole list, so the adapter
// keeps the list of each mapped project in memory (one per project, indexed by
// member id and email) and shares it between convergences: a group of N
// members converges with a bounded number of listings, not N listings of up to
// N entries. The adapter's own successful writes change the kept list in place;
// writes that end while the list is being read again are replayed on the new
// one. A list older than Config.ProjectMembersTTL (default 30 seconds) is read
// again, so changes made by hand are seen within that age; a dry run
// (reconciliation) and Inventory read afresh. A failed write drops the list;
// one answered 409, 404, 422 or 400 (the list was wrong: the member was added
// or removed by hand, or by another replica whose answer was lost) makes the convergence read the project again and plan once
// more before it returns. A recorded member whose listed email looks stale
// (the user's email changed, the same member renamed in Bimplus) is kept when
// the team says the new email is that member's: no delete and re-add.
// Convergences of one member (by email) run one at a
// time, from reading the lists to their last write, so two never add the same
// member; convergences of different members run in parallel.
//
// Replicas keep their own lists and do not see each other's writes in them,
// but every replica saves the user's record after its writes: a kept list
// whose entry of the user disagrees with the record (a managed membership
// missing or with another role, or one the record says was removed still
// listed) is read afresh before the convergence decides. The record marks a
// removed membership's project ("removed" in Record.State) until a listing
// read afresh has been seen or the project is managed again.
//
// # Assumptions beyond the vendor document
//
//   - Member ids are found by email in the team's member list,
//     GET {url}/{team}/members, whose entries carry "id" and "email" (the same
//     shape as "member" in a project listing; entries nested under "member" are
//     accepted too). Emails compare case-insensitively. The listing is needed
//     only when a POST is needed and no project listing already showed the
//     user's member id. A user with no team member for its email cannot be
//     added: that is a permanent error (the document allows assigning roles to
//     existing team members only). An API without that route (it answers 404,
//     405 or 501: the vendor document does not list it) is served from the member lists of
//     the mapped projects instead: a user already on one mapped project can be
//     given roles on the others.
//   - The team listing is cached per connector for Config.MembersTTL (default
//     one minute; "0s" reads it for every lookup), shared by concurrent
//     convergences, which wait for one request instead of sending their own.
//     An email missing from a listing older than one second reads the team
//     again once (a member invited since); a miss on a younger listing is final.
//     A POST answered 400, 404 or 422 for a member id taken from a listing read
//     before the convergence reads the team again: a member whose id changed is
//     retried once with the new id, one no longer in the team is the permanent
//     error above, and otherwise the POST's own error is reported.
//   - DELETE names the member in a JSON body {"member":{"id"},"role":{"id"}},
//     like POST and PUT on the same resource (without "role" when the listing
//     showed none); a 404 answer means the membership is already gone.
//   - A listed role is the wanted one when its id or its name matches: the
//     document's own examples give Project_Viewer one id in GET /roles and
//     another in a member listing.
//   - Listings are plain JSON arrays, not paged (as the document shows them).
//   - A project that answers 404 has no memberships to remove; a user who needs
//     a role on it gets the (not-found) error, so the bridge retries later.
//   - The user's email is connectors.User.Email; a user with desired roles and no
//     email is a permanent error.
//
// Every request carries "Authorization: BimPlus <token>". Errors are the
// classified errors of connectors.Client, wrapped with context.
package bimplus
