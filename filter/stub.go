package filter

// Temporary stubs so dependent packages compile while the real implementation is
// written. The filter implementation replaces this file entirely.

import (
	"errors"

	"github.com/elimity-com/scim/schema"
)

type resourceSchema struct{}

func newResourceSchema(core schema.Schema, extensions ...schema.Schema) *ResourceSchema {
	return &ResourceSchema{impl: &resourceSchema{}}
}

type compiled struct{}

func (c *compiled) match(map[string]any) bool { return false }
func (c *compiled) String() string            { return "" }
func (c *compiled) plan() ([]Lookup, bool)    { return nil, false }

var errStub = errors.New("filter: not implemented yet")

func compile(*ResourceSchema, string) (*Filter, error)                      { return nil, errStub }
func parsePatch(*ResourceSchema, []byte) ([]Operation, error)               { return nil, errStub }
func normalize(_ *ResourceSchema, r map[string]any) (map[string]any, error) { return r, nil }
func project(_ *ResourceSchema, r map[string]any, _, _ []string) map[string]any {
	return r
}
func comparator(*ResourceSchema, string) (func(a, b map[string]any) int, error) { return nil, errStub }
func apply(*ResourceSchema, map[string]any, []Operation) (map[string]any, bool, error) {
	return nil, false, errStub
}
