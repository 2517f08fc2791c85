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
	return &resourceTypes{
		user:  mk(store.KindUser, "Users", schema.CoreUserSchema(), schema.ExtensionEnterpriseUser()),
		group: mk(store.KindGroup, "Groups", schema.CoreGroupSchema()),
	}
}

func (rts *resourceTypes) byEndpoint(ep string) *resourceType {
	switch ep {
	case "Users":
		return rts.user
	case "Groups":
		return rts.group
	}
	return nil
}
