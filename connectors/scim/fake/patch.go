package fake

import (
	"encoding/json"
	"fmt"
	"strings"
)

// patchBody is a PatchOp request (RFC 7644 §3.5.2).
type patchBody struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// patchError is a 400 with a scimType.
type patchError struct {
	scimType string
	msg      string
}

func (e *patchError) Error() string { return e.msg }

func badPatch(scimType, format string, args ...any) error {
	return &patchError{scimType: scimType, msg: fmt.Sprintf(format, args...)}
}

// applyPatch applies every operation to u, a copy: the caller commits it only when
// all succeed, which makes the request atomic.
func applyPatch(u *User, in patchBody) error {
	if len(in.Operations) == 0 {
		return badPatch("invalidSyntax", "Operations is required")
	}
	for i, op := range in.Operations {
		kind := strings.ToLower(op.Op)
		switch kind {
		case "add", "replace", "remove":
		default:
			return badPatch("invalidSyntax", "Operations[%d]: unsupported op %q", i, op.Op)
		}
		if op.Path == "" {
			if kind == "remove" {
				return badPatch("noTarget", "Operations[%d]: remove needs a path", i)
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(op.Value, &obj); err != nil {
				return badPatch("invalidValue", "Operations[%d]: value must be an object when path is absent", i)
			}
			for k, v := range obj {
				if err := setAttr(u, k, kind, v); err != nil {
					return err
				}
			}
			continue
		}
		if err := setAttr(u, op.Path, kind, op.Value); err != nil {
			return err
		}
	}
	return nil
}

// setAttr applies one add/replace/remove to the attribute named by path.
func setAttr(u *User, path, kind string, v json.RawMessage) error {
	name := strings.TrimPrefix(strings.ToLower(path), strings.ToLower(SchemaUser)+":")
	switch name {
	case "id", "meta", "schemas", "emails", "password", "groups":
		return badPatch("mutability", "attribute %q cannot be edited", path)
	case "username", "externalid", "displayname", "active":
	default:
		if strings.HasPrefix(name, "meta.") || strings.HasPrefix(name, "emails") {
			return badPatch("mutability", "attribute %q cannot be edited", path)
		}
		return nil // not in the ODM user scheme: ignored
	}
	if kind == "remove" {
		switch name {
		case "username", "active":
			return badPatch("mutability", "attribute %q is required", path)
		case "externalid":
			u.ExternalID = ""
		case "displayname":
			u.DisplayName = ""
		}
		return nil
	}
	if name == "active" {
		b, ok := parseBool(v)
		if !ok {
			return badPatch("invalidValue", "active must be a boolean")
		}
		u.Active = b
		return nil
	}
	var str string
	if err := json.Unmarshal(v, &str); err != nil {
		return badPatch("invalidValue", "%s must be a string", path)
	}
	switch name {
	case "username":
		if strings.TrimSpace(str) == "" {
			return badPatch("invalidValue", "userName must not be empty")
		}
		u.UserName = str
	case "externalid":
		u.ExternalID = str
	case "displayname":
		u.DisplayName = str
	}
	return nil
}
