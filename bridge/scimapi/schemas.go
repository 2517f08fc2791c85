package scimapi

import (
	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// Schema URNs (RFC 7643 §8.7.1, RFC 7644 §3).
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ListSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpSchema    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SearchSchema     = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	SPConfigSchema   = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

const contentTypeSCIM = "application/scim+json"

// resourceType is one SCIM resource type the endpoint serves.
type resourceType struct {
	kind       store.Kind
	endpoint   string // "Users"
	core       schema.Schema
	extensions []schema.Schema
	rs         *filter.ResourceSchema
	schemaIDs  map[string]bool // every URN a request body may list in "schemas"
}

// resourceTypes holds the User (with the enterprise extension) and Group types.
type resourceTypes struct {
	user, group *resourceType
	// root is the schema a query across every type (RFC 7644 §3.4.3) is
	// checked against: the User's attributes plus those only a Group has. A
	// resource lacking an attribute the filter names simply has no value for
	// it, as with any unassigned attribute.
	root *filter.ResourceSchema
}

func newResourceTypes() *resourceTypes {
	mk := func(kind store.Kind, endpoint string, core schema.Schema, ext ...schema.Schema) *resourceType {
		rt := &resourceType{
			kind: kind, endpoint: endpoint, core: core, extensions: ext,
			rs:        filter.NewResourceSchema(core, ext...),
			schemaIDs: map[string]bool{core.ID: true},
		}
		for _, e := range ext {
			rt.schemaIDs[e.ID] = true
		}
		return rt
	}
	rts := &resourceTypes{
		user:  mk(store.KindUser, "Users", schema.CoreUserSchema(), schema.ExtensionEnterpriseUser()),
		group: mk(store.KindGroup, "Groups", schema.CoreGroupSchema()),
	}
	rts.root = filter.NewResourceSchema(unionSchema(rts.user.core, rts.group.core), rts.user.extensions...)
	return rts
}

// unionSchema is a with the attributes of b it lacks.
func unionSchema(a, b schema.Schema) schema.Schema {
	u := a
	u.Attributes = append(schema.Attributes{}, a.Attributes...)
	for _, attr := range b.Attributes {
		if _, ok := a.Attributes.ContainsAttribute(attr.Name()); !ok {
			u.Attributes = append(u.Attributes, attr)
		}
	}
	return u
}

// all is every resource type, in the order a root query returns them.
func (rts *resourceTypes) all() []*resourceType { return []*resourceType{rts.user, rts.group} }

func (rts *resourceTypes) byEndpoint(ep string) *resourceType {
	switch ep {
	case "Users":
		return rts.user
	case "Groups":
		return rts.group
	}
	return nil
}
