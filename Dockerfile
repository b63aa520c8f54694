# The operator image: a static binary on distroless, running as non-root.
# Build with `make docker-build` (needs a Docker engine), or without any
# engine or registry with `make image` (hack/tools/ociimage: the same binary,
# user and entrypoint on an empty base). Only cmd/fedcommons ships: the demo
# and its test rig are cmd/fedcommons-dev.

FROM golang:1.26 AS builder
ARG VERSION=dev
# Set by buildx for multi-platform builds; empty means the builder's own.
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /fedcommons ./cmd/fedcommons

# static: no libc needed (CGO_ENABLED=0); nonroot: UID/GID 65532.
FROM gcr.io/distroless/static:nonroot
COPY --from=builder /fedcommons /fedcommons
# Numeric, so that Kubernetes can verify runAsNonRoot without a runAsUser.
USER 65532:65532
ENTRYPOINT ["/fedcommons"]
CMD ["manager"]
