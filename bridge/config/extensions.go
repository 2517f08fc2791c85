package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

// SchemaExtension declares a custom schema extension of a tenant (RFC 7643
// §3.3), as Okta and Entra push custom attributes under a URN of their own:
//
//	schema_extensions:
//	  - resource_type: User          # or Group
//	    required: false              # every resource of the type must carry it
//	    id: urn:ietf:params:scim:schemas:extension:acme:2.0:User
//	    name: AcmeUser
//	    attributes:
//	      - {name: costCenterCode, type: string}
//	      - {name: badgeNumber, type: string, caseExact: true, uniqueness: none}
//	      - {name: skills, type: string, multiValued: true}
//	      - name: site
//	        type: complex
//	        subAttributes: [{name: code, type: string}, {name: floor, type: integer}]
//
// The keys below resource_type and required are those of RFC 7643 §7 (id,
// name, description, attributes with name, type, multiValued, required,
// caseExact, mutability, returned, uniqueness, canonicalValues,
// referenceTypes, subAttributes); absent characteristics take the defaults of
// RFC 7643 §2.2. The enterprise User extension needs no declaration.
type SchemaExtension struct {
	// ResourceType is the resource type extended: User or Group.
	ResourceType string `yaml:"resource_type"`
	// Required makes the extension mandatory on every resource of the type
	// (RFC 7643 §6 schemaExtensions.required). Default false.
	Required bool `yaml:"required"`
	// Extension is the schema, in the form of RFC 7643 §7.
	filter.Extension `yaml:",inline"`
}

// Extensions returns the tenant's extensions per resource type, in file
// order, ready for the SCIM endpoint. Load has checked them: an error here
// means t did not come from Load.
func (t Tenant) Extensions() (user, group []filter.SchemaExtension, err error) {
	for i, e := range t.SchemaExtensions {
		s, err := e.Schema()
		if err != nil {
			return nil, nil, fmt.Errorf("tenant %s: schema_extensions[%d]: %w", t.ID, i, err)
		}
		se := filter.SchemaExtension{Schema: s, Required: e.Required}
		switch e.ResourceType {
		case "User":
			user = append(user, se)
		case "Group":
			group = append(group, se)
		default:
			return nil, nil, fmt.Errorf("tenant %s: schema_extensions[%d]: resource_type must be User or Group", t.ID, i)
		}
	}
	return user, group, nil
}

// checkExtensions reports, at their keys, declarations that are not valid
// RFC 7643 §7 schemas and extension ids that collide (with each other, with
// the core and enterprise schemas, or one a prefix of another).
func (l *loader) checkExtensions(c *Config) {
	builtin := []string{schema.CoreUserSchema().ID, schema.CoreGroupSchema().ID, schema.ExtensionEnterpriseUser().ID}
	for ti, t := range c.Tenants {
		seen := map[string]string{} // lower-cased id -> key path of its first declaration
		for ei, e := range t.SchemaExtensions {
			path := fmt.Sprintf("tenants[%d].schema_extensions[%d]", ti, ei)
			if e.ResourceType != "User" && e.ResourceType != "Group" {
				l.fail(path+".resource_type", "must be User or Group")
			}
			if _, err := e.Schema(); err != nil {
				var de *filter.DefinitionError
				if errors.As(err, &de) && de.Path != "" {
					l.fail(path+"."+de.Path, de.Detail)
				} else {
					l.fail(path, err.Error())
				}
				continue
			}
			id := strings.ToLower(e.ID)
			for _, b := range builtin {
				if collides(id, strings.ToLower(b)) {
					l.fail(path+".id", fmt.Sprintf("collides with the built-in schema %s", b))
				}
			}
			for other, at := range seen {
				if collides(id, other) {
					l.fail(path+".id", fmt.Sprintf("collides with the extension at line %d (ids are compared ignoring case and may not be a prefix of one another)", l.lineOf(at)))
				}
			}
			seen[id] = path + ".id"
		}
	}
}

// collides reports whether two lower-cased schema ids are equal or one is a
// prefix of the other (then "<id>:<attribute>" paths would be ambiguous).
func collides(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+":") || strings.HasPrefix(b, a+":")
}
