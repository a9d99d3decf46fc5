# netprofile manager image: a static Go binary on distroless/static, running as the distroless "nonroot" user
# (65532:65532), the user the Helm chart's securityContext expects (runAsNonRoot, runAsUser 65532,
# readOnlyRootFilesystem: the manager writes no files).
#
#   docker build -t ghcr.io/netprofile/netprofile:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Dependencies first, in their own layer, so a source change does not download modules again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY pkg/ pkg/
# CGO off: a static binary that needs no libc in the final image. -trimpath keeps build paths out of it.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
