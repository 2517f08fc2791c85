#!/bin/sh
# Builds the scim-bridge image and checks it with whichever engine is installed
# (docker or podman): `version` prints the stamped version, a container with a
# read-only root filesystem and every capability dropped answers /healthz and
# /readyz (and its own health probe), runs as 65532, and the image size.
#
#   sh deploy/image/smoke.sh [TAG]        (default scim-bridge:smoke)
set -eu
cd "$(dirname "$0")/../.."
tag=${1:-scim-bridge:smoke}
engine=$(command -v docker || command -v podman) || { echo "smoke: neither docker nor podman is installed" >&2; exit 1; }
version=smoke-$(date -u +%Y%m%d%H%M%S)
port=${SMOKE_PORT:-18080}

"$engine" build --build-arg VERSION="$version" -t "$tag" .
out=$("$engine" run --rm "$tag" version)
case $out in *"$version"*) ;; *) echo "smoke: version printed \"$out\", want $version" >&2; exit 1 ;; esac

name=scim-bridge-smoke-$$
"$engine" run -d --rm --name "$name" --read-only --cap-drop ALL --security-opt no-new-privileges \
  -p "127.0.0.1:$port:8080" -e SCIM_BRIDGE_TOKEN=smoke-token-0123456789abcdef "$tag" >/dev/null
trap '"$engine" rm -f "$name" >/dev/null 2>&1 || true' EXIT
i=0
until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 50 ] || { "$engine" logs "$name" >&2; echo "smoke: /healthz never answered" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz"
"$engine" exec "$name" scim-bridge-probe
uid=$("$engine" inspect --format '{{.Config.User}}' "$tag")
[ "$uid" = "65532:65532" ] || { echo "smoke: image user $uid, want 65532:65532" >&2; exit 1; }
echo "smoke: ok — $("$engine" image inspect --format '{{.Size}}' "$tag") bytes, user $uid, version $version"
