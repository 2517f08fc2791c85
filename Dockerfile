# syntax=docker/dockerfile:1
# (BuildKit pulls this Dockerfile frontend, docker/dockerfile:1, from Docker
# Hub: see the README's "Container image" for builds without access to it.)
#
# scim-bridge container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t scim-bridge .
#   docker run --rm scim-bridge version
#
# Build stage: a static, reproducible binary (no cgo, no local paths, version
# stamped into main.version). deploy/image/build.sh runs the same command
# outside a container and CI runs that script, so the flags live in one place.
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src
# Module downloads through a proxy or mirror, and flags for every go command:
#   --build-arg GOPROXY=https://goproxy.example.com --build-arg GOFLAGS=...
# Unset or empty, Go's defaults apply.
ARG GOPROXY
ARG GOFLAGS
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH OUT=/out VERSION=$VERSION sh deploy/image/build.sh

# Final stage: nothing but the two binaries, the CA bundle and the default
# configuration. No shell, no package manager; runs as a numeric non-root user
# and writes nothing to its filesystem (run it with a read-only root).
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="scim-bridge" \
      org.opencontainers.image.description="SCIM 2.0 provisioning bridge: IdP users and groups kept in Redis and converged into downstream systems" \
      org.opencontainers.image.source="https://github.com/scim-bridge/scim-bridge" \
      org.opencontainers.image.url="https://github.com/scim-bridge/scim-bridge" \
      org.opencontainers.image.documentation="https://github.com/scim-bridge/scim-bridge#running-it-for-real" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/scim-bridge /out/scim-bridge-probe /usr/local/bin/
COPY --chown=0:0 --chmod=0444 deploy/image/bridge.yaml /etc/scim-bridge/bridge.yaml
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8080
# Docker-format images only (OCI images drop it); Kubernetes uses its own probes.
# Pass the URL when the bridge listens elsewhere than :8080.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["scim-bridge-probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["scim-bridge"]
CMD ["serve", "--config", "/etc/scim-bridge/bridge.yaml"]
