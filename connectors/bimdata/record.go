package bimdata

import (
	"encoding/json"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// User states recorded in userState.Status.
const (
	// statePresent: create_user answered 2xx for Email; the BIMData user exists.
	statePresent = "present"
	// stateRemoved: delete_user answered for Email; the BIMData user is gone.
	stateRemoved = "removed"
	// stateReleased: Email now belongs to another active SCIM user, which owns
	// the BIMData user from now on; this subject no longer touches it.
	stateReleased = "released"
)

// Record keys.
const (
	idUser       = "user"       // Record.IDs key: BIMData user id, when create_user answered one
	idInvitation = "invitation" // Record.IDs key of an invitation subject
)

// userState is the adapter-private Record.State of a user subject. It keeps the
// email the subject was last converged with, because a deleted SCIM user arrives
// without one and its BIMData user is deleted, and its invitations denied, by email.
type userState struct {
	// Email is the email of the BIMData user this subject last converged.
	Email string `json:"email,omitempty"`
	// Emails are all the emails the SCIM user had then (their invitations are
	// denied when the user goes away).
	Emails []string `json:"emails,omitempty"`
	// Status is statePresent, stateRemoved, stateReleased or empty (unknown).
	Status string `json:"status,omitempty"`
	// Former are the emails of BIMData users this subject made under an email
	// it no longer has as its primary. They stay while the user is active;
	// its deprovisioning deletes each (on_deactivate: delete) unless another
	// active SCIM user owns the email, and keeps it here until it is, so a
	// failed delete never leaves a former account behind with access.
	Former []string `json:"former,omitempty"`
}

// invitationState is the Record.State of an invitation subject.
type invitationState struct {
	Email  string `json:"email,omitempty"`
	Status string `json:"status,omitempty"` // A, D or P as last seen or made
}

// decodeUserState reads prev.State. A record it cannot read is treated as empty:
// the record is only a hint, and an empty one still converges correctly.
func decodeUserState(prev connectors.Record) userState {
	var st userState
	if len(prev.State) > 0 && json.Unmarshal(prev.State, &st) != nil {
		return userState{}
	}
	return st
}

// record builds the Record of a user subject.
func (st userState) record(userID string) connectors.Record {
	var rec connectors.Record
	if userID != "" && st.Status == statePresent {
		rec.IDs = map[string]string{idUser: userID}
	}
	if st.Email != "" || st.Status != "" || len(st.Emails) > 0 || len(st.Former) > 0 {
		rec.State, _ = json.Marshal(st) // a struct of strings always marshals
	}
	return rec
}

// is reports whether the state says email is in the given status.
func (st userState) is(status, email string) bool {
	return st.Status == status && email != "" && strings.EqualFold(st.Email, email)
}

func invitationRecord(inv invitation) connectors.Record {
	state, _ := json.Marshal(invitationState{Email: inv.Email, Status: inv.Status})
	return connectors.Record{IDs: map[string]string{idInvitation: inv.ID.String()}, State: state}
}
