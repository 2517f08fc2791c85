package connectors

// Relevance is an optional capability for explanations ("why was this user not
// provisioned?"): Relevant reports whether the connector has anything to
// converge downstream for s, and when it has not, why in words an admin
// understands (e.g. "user in no mapped group"). A connector without it is
// taken to be concerned by every subject of the kinds it handles.
type Relevance interface {
	Relevant(s Subject) (ok bool, why string)
}
