// Package fakeconn is the one fake connector of the bridge's tests: a
// connectors.Connector (and Projector) whose behaviour each test sets through
// functions, which counts its convergences per subject, and which can wrap a
// real adapter. EventConnector adds the webhook capability; a plain Connector
// deliberately has none, so the bridge's type assertions see what a test means.
package fakeconn

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Connector is a configurable fake. The zero value of every function field
// means: converge by returning prev and no action; hash the whole subject.
type Connector struct {
	// ConnName is the connector's name.
	ConnName string
	// Kinds are the subject kinds it handles; nil means every kind.
	Kinds []connectors.SubjectKind
	// ConvergeFunc, when set, is the convergence.
	ConvergeFunc func(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error)
	// ProjectFunc, when set, is what the bridge hashes of a subject.
	ProjectFunc func(s connectors.Subject) any

	mu    sync.Mutex
	calls map[string]int // subject id → Converge calls
}

var (
	_ connectors.Connector = (*Connector)(nil)
	_ connectors.Projector = (*Connector)(nil)
)

// Wrap returns a fake that forwards to c (its name, kinds and Project) and
// counts its convergences. Only the Connector and Projector methods of c are
// kept: the wrapper hides c's other capabilities.
func Wrap(c connectors.Connector) *Connector {
	f := &Connector{ConnName: c.Name(), ConvergeFunc: c.Converge}
	for _, k := range []connectors.SubjectKind{connectors.SubjectUser, connectors.SubjectTenant, connectors.SubjectObject} {
		if c.Handles(k) {
			f.Kinds = append(f.Kinds, k)
		}
	}
	if p, ok := c.(connectors.Projector); ok {
		f.ProjectFunc = p.Project
	}
	return f
}

// Name returns ConnName.
func (c *Connector) Name() string { return c.ConnName }

// Handles reports whether kind is one of Kinds (all kinds when Kinds is nil).
func (c *Connector) Handles(kind connectors.SubjectKind) bool {
	return c.Kinds == nil || slices.Contains(c.Kinds, kind)
}

// Converge counts the call, then runs ConvergeFunc (or returns prev).
func (c *Connector) Converge(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[s.ID]++
	c.mu.Unlock()
	if c.ConvergeFunc == nil {
		return prev, nil, nil
	}
	return c.ConvergeFunc(ctx, s, prev, opts)
}

// Project runs ProjectFunc, or returns the whole subject.
func (c *Connector) Project(s connectors.Subject) any {
	if c.ProjectFunc == nil {
		return s
	}
	return c.ProjectFunc(s)
}

// Calls returns how many times subject id was converged (dry runs included).
func (c *Connector) Calls(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// EventConnector is a Connector that also maps webhook events to subjects.
type EventConnector struct {
	*Connector
	// HandleEventFunc maps an event; nil acknowledges every event with no subject.
	HandleEventFunc func(ctx context.Context, eventType string, data json.RawMessage) ([]connectors.Subject, error)

	mu     sync.Mutex
	events []string
}

var _ connectors.EventHandler = (*EventConnector)(nil)

// HandleEvent records the event type, then runs HandleEventFunc.
func (c *EventConnector) HandleEvent(ctx context.Context, eventType string, data json.RawMessage) ([]connectors.Subject, error) {
	c.mu.Lock()
	c.events = append(c.events, eventType)
	c.mu.Unlock()
	if c.HandleEventFunc == nil {
		return nil, nil
	}
	return c.HandleEventFunc(ctx, eventType, data)
}

// Events returns how many events reached HandleEvent.
func (c *EventConnector) Events() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}
