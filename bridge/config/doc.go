// Package config reads the bridge's configuration: the YAML file of
// `scim-bridge serve --config`, the `${VAR}` references inside it and the
// SCIM_BRIDGE_* variables that override its top-level keys. Load returns a
// checked *Config, or every problem of the file at once, each naming the file,
// the line and the key path:
//
//	bridge.yaml:12: tenants[0].connectors[1].url: is required
//	$SCIM_BRIDGE_WORKERS: workers: must be an integer
//
// Messages never quote a token, a secret or a value from the environment.
//
// # How a file is read
//
//  1. load.go parses the file into yaml.v3 nodes (one document; the line of a
//     syntax error is found by parsing, not read from the library's message).
//  2. decode.go walks the nodes and the Go value together: strict (an unknown
//     key is an error, with a "did you mean"), duplicate keys, wrong kinds,
//     aliases and merge keys, each problem at the node's line and key path.
//     Values are expanded (expand.go) just before they are decoded. A value
//     that cannot be read gets that one error: no rule or credential check
//     reports on it again (it would see it empty: "is required"...).
//  3. connector.go decodes each connector entry into the connectors.Config the
//     registry makes for its type, and locates the *connectors.FieldError of
//     its Validate at their keys.
//  4. env.go applies the SCIM_BRIDGE_* overrides, config.go the defaults.
//  5. validate.go runs the table of rules of rules.go over the result.
//
// # Adding a key
//
// A key is a field of Config, Log, Tenant (or a new struct below them) with a
// `yaml:"name"` tag and a doc comment stating its meaning and default. That is
// the whole of decoding: the walker finds fields by their tags, so the key is
// strict-checked, expanded and located in messages with no further code.
// Then, where they apply:
//
//   - a default: one defaultTo line in Config.applyDefaults (config.go), with
//     an exported Default* constant when callers need it;
//   - checks: one rule per thing that must hold in rules() (rules.go), as
//     {key path, check, message}; [*] in the path stands for every item;
//   - a credential: tag the field `config:"secret"` and its value (or every
//     item below it) is redacted from every message;
//   - a bearer token: type auth.Token (a plain string or a mapping with name,
//     token, not_before, expires; decoded by decodeToken in credentials.go,
//     its token redacted); credentials are validated by package auth, whose
//     *auth.FieldError values credentials.go locates at their key and line;
//   - a duration: use Duration (Go syntax such as 90s or 1h); a timestamp:
//     time.Time; a value of several shapes: a type implementing
//     yaml.Unmarshaler whose errors are plain messages;
//   - a top-level key holding one value, or a key of a top-level mapping, is
//     overridden by SCIM_BRIDGE_<PATH> (log.level: SCIM_BRIDGE_LOG_LEVEL)
//     without code; list it in the Config doc comment.
//
// Keys of a connector entry belong to that connector's Config (package
// connectors and its sub-packages), not to this package.
//
// This package imports connectors (for the Config contract) and store (for
// the Redis URL check) and nothing of the bridge: the bridge is configured
// from a *Config by its caller.
package config
