package auth

import "context"

type identityKey struct{}

// NewContext returns ctx carrying id, for handlers and the audit trail
// downstream of authentication.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the Identity NewContext stored in ctx.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
