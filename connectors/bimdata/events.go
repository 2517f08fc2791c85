package bimdata

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// EventInvitationCreated is the webhook event type that announces a new
// invitation. Its data carries the invitation, {"id": 42, "email": "...",
// "status": "P"}, either at the top level or under "invitation".
const EventInvitationCreated = "invitation.created"

// HandleEvent maps an "invitation.created" event to the invitation's subject, so
// the sync worker evaluates it at once. Other event types return (nil, nil).
func (c *connector) HandleEvent(_ context.Context, eventType string, data json.RawMessage) ([]connectors.Subject, error) {
	if eventType != EventInvitationCreated {
		return nil, nil
	}
	var body struct {
		ID         flexID `json:"id"`
		Invitation *struct {
			ID flexID `json:"id"`
		} `json:"invitation"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, &connectors.Error{Class: connectors.Permanent, Op: "bimdata event " + eventType, Msg: "malformed data", Err: err}
	}
	id := body.ID
	if id == 0 && body.Invitation != nil {
		id = body.Invitation.ID
	}
	if id <= 0 {
		return nil, &connectors.Error{Class: connectors.Permanent, Op: "bimdata event " + eventType, Msg: fmt.Sprintf("data carries no invitation id (%d bytes)", len(data))}
	}
	// The cached list predates the invitation; user convergences should see it.
	c.cache.invalidate()
	return []connectors.Subject{InvitationSubject(int64(id))}, nil
}
