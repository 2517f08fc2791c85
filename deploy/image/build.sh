#!/bin/sh
# Builds the scim-bridge binaries exactly as the container image does: static
# (CGO_ENABLED=0), no local paths (-trimpath), no VCS stamp (reproducible from
# the source alone), symbols stripped, version stamped into main.version.
#
#   OUT=bin VERSION=v1.2.3 sh deploy/image/build.sh   # → bin/scim-bridge, bin/scim-bridge-probe
#
# GOOS and GOARCH are honoured for cross builds.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$root/bin}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
VERSION=${VERSION:-dev}
export CGO_ENABLED=0
cd "$root"
go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=$VERSION" -o "$OUT/scim-bridge" ./cmd/scim-bridge
cd "$root/deploy"
go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$OUT/scim-bridge-probe" ./image/probe
