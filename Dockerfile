# netprofile manager image, for those who build with a container daemon: a static Go binary on
# distroless/static, running as the distroless "nonroot" user (65532:65532), the user the Helm chart's
# securityContext expects (runAsNonRoot, runAsUser 65532, readOnlyRootFilesystem: the manager writes no files).
# `make image` builds the same image without a daemon (hack/image), for linux/amd64 and linux/arm64, reproducibly;
# that is the image the tests run (test/image).
#
#   docker build -t ghcr.io/netprofile/netprofile:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=v1.2.3 --build-arg REVISION=$(git rev-parse HEAD) -t ... .
#
# The base images are pinned by tag, not digest: pin them (FROM image:tag@sha256:...) where you build.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=
WORKDIR /src
# Dependencies first, in their own layer, so a source change does not download modules again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# The whole module: .dockerignore leaves out what the manager does not build from (test/ checks it).
COPY . .
# CGO off: a static binary that needs no libc in the final image. -trimpath keeps build paths out of it; the
# version and revision are stamped as make image stamps them (there is no .git here to read them from).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X github.com/netprofile/netprofile/pkg/version.Version=${VERSION} -X github.com/netprofile/netprofile/pkg/version.Revision=${REVISION}" \
      -o /out/manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
