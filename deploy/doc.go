// Package deploy holds the tests of scim-bridge's deployment artefacts: the
// Helm chart (rendered with Helm, a Go tool of this module), the Compose
// configuration run against the binary built as the container image builds it,
// the systemd unit, and the Prometheus rules and Grafana dashboard, whose
// metric names are listed in monitoring/series.txt and checked against a
// scrape of a running bridge.
//
// It is a module of its own so that Helm's dependencies stay out of the
// bridge's go.mod: run its tests with (cd deploy && go test ./...).
package deploy
