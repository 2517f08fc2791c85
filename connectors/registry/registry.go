// Package registry lists the connector types the bridge knows: one explicit map
// from the configuration's `type` to a constructor of that adapter's Config. No
// init() registration: adding a connector means adding a line here.
package registry

import (
	"sort"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
)

// Builtin returns a fresh map of the built-in connector types.
func Builtin() map[string]func() connectors.Config {
	return map[string]func() connectors.Config{
		bimdata.Type:  func() connectors.Config { return &bimdata.Config{} },
		bimplus.Type:  func() connectors.Config { return &bimplus.Config{} },
		authress.Type: func() connectors.Config { return &authress.Config{} },
		scim.Type:     func() connectors.Config { return &scim.Config{} },
	}
}

// Types lists the built-in type names, sorted.
func Types() []string {
	var out []string
	for k := range Builtin() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
