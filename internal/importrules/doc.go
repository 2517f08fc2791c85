// Package importrules holds the test that keeps the module's dependencies
// pointing one way:
//
//	cmd → bridge → bridge/* → (connectors, store → filter)
//
// connectors never import bridge or store; filter imports nothing of the
// project; no bridge sub-package imports bridge itself; nothing imports cmd.
// Every package of the module must fall under one rule, so a new top-level
// folder has to be placed in the picture before its first test passes. The
// package has no code: the rules are in importrules_test.go.
package importrules
