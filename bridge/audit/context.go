package audit

import "context"

// slot carries what the SCIM server learns while serving a request (its tenant
// and the name of the credential) back to the middleware that records it.
type slot struct {
	tenant   string
	identity string
}

type slotKey struct{}

func withSlot(ctx context.Context) (context.Context, *slot) {
	s := &slot{}
	return context.WithValue(ctx, slotKey{}, s), s
}

// NoteIdentity tells the audit middleware serving ctx which tenant and which of
// its credentials (by name, never the credential) made the request. Without
// the middleware it does nothing.
func NoteIdentity(ctx context.Context, tenant, credentialName string) {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		s.tenant, s.identity = tenant, credentialName
	}
}
