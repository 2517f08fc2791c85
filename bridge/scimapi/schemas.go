package scimapi

import (
	"fmt"
	"slices"

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
	extensions []filter.SchemaExtension
	rs         *filter.ResourceSchema
	schemaIDs  map[string]bool // every URN a request body may list in "schemas"
	// root is the schema of queries across every type (see resourceTypes.root).
	root *filter.ResourceSchema
	// immutable: some top-level attribute is immutable (a tenant's
	// extension): a PUT reads the stored resource to keep or check it.
	immutable bool
}

// resourceTypes holds the User (with the enterprise extension and a tenant's
// own) and Group types (with a tenant's own extensions).
type resourceTypes struct {
	user, group *resourceType
	// root is the schema a query across every type (RFC 7644 §3.4.3) is
	// checked against: the User's attributes plus those only a Group has, and
	// every extension of both. A resource lacking an attribute the filter
	// names simply has no value for it, as with any unassigned attribute.
	root *filter.ResourceSchema
	// discovery serves /Schemas and /ResourceTypes for these types.
	discovery discovery
}

// Extensions are the schema extensions (RFC 7643 §3.3) a tenant attaches to
// its resource types, beside the enterprise User extension every tenant has.
type Extensions struct {
	User  []filter.SchemaExtension
	Group []filter.SchemaExtension
}

func newResourceTypes(ext Extensions) (*resourceTypes, error) {
	mk := func(kind store.Kind, endpoint string, core schema.Schema, exts []filter.SchemaExtension) (*resourceType, error) {
		rs, err := filter.NewExtendedResourceSchema(core, exts...)
		if err != nil {
			return nil, fmt.Errorf("%s extensions: %w", kind, err)
		}
		rt := &resourceType{kind: kind, endpoint: endpoint, core: core, extensions: exts, rs: rs,
			schemaIDs: map[string]bool{core.ID: true}, immutable: rs.HasImmutable()}
		for _, e := range exts {
			rt.schemaIDs[e.Schema.ID] = true
		}
		return rt, nil
	}
	userExts := append([]filter.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}}, ext.User...)
	user, err := mk(store.KindUser, "Users", schema.CoreUserSchema(), userExts)
	if err != nil {
		return nil, err
	}
	group, err := mk(store.KindGroup, "Groups", schema.CoreGroupSchema(), ext.Group)
	if err != nil {
		return nil, err
	}
	rootExts := make([]filter.SchemaExtension, 0, len(userExts)+len(ext.Group))
	for _, e := range append(slices.Clone(userExts), ext.Group...) {
		rootExts = append(rootExts, filter.SchemaExtension{Schema: e.Schema}) // never required across types
	}
	root, err := filter.NewExtendedResourceSchema(unionSchema(user.core, group.core), rootExts...)
	if err != nil {
		return nil, fmt.Errorf("extensions across resource types: %w", err)
	}
	user.root, group.root = root, root
	return &resourceTypes{user: user, group: group, root: root}, nil
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
