# syntax=docker/dockerfile:1
# The bridge agent, for those who run it in a container (a Raspberry Pi normally runs it under systemd:
# deploy/systemd/stagelink-bridge.service).
#   docker build -f deploy/docker/bridge.Dockerfile -t stagelink/bridge .          (from the repository root)
#   docker buildx build --platform linux/arm/v7,linux/arm64 -f deploy/docker/bridge.Dockerfile .
#   docker run -e STAGELINK_BRIDGE_TOKEN -v $PWD/bridge.yaml:/etc/stagelink/bridge.yaml:ro stagelink/bridge
# It dials out to the hub and serves nothing: no port. The healthcheck reads the heartbeat file the agent
# writes every 10 s while the hub has accepted it (-heartbeat, here from the environment).
# Checked by `go test ./deploy` (TestDockerfiles).

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH TARGETVARIANT
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} \
    go build -trimpath -ldflags="-s -w" -o /out/bridge ./cmd/bridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bridge /bridge
USER 65532:65532
ENV STAGELINK_BRIDGE_HEARTBEAT=/tmp/stagelink-bridge.heartbeat
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/bridge", "healthcheck"]
ENTRYPOINT ["/bridge"]
CMD ["-config", "/etc/stagelink/bridge.yaml"]
