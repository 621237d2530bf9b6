# syntax=docker/dockerfile:1
# The hub: docker build -f deploy/docker/hub.Dockerfile -t stagelink/hub .   (from the repository root)
# Run: docker run -p 8080:8080 -p 8189:8189/udp -v stagelink-data:/data stagelink/hub
# Static (CGO_ENABLED=0: the content store's SQLite is modernc.org/sqlite, pure Go), distroless, non-root.
# Checked by `go test ./deploy` (TestDockerfiles): Docker itself cannot run on the development machine.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/hub ./cmd/hub \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hub /hub
# /data belongs to the non-root user, so a fresh named volume does too.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV STAGELINK_ADDR=:8080 \
    STAGELINK_DATA=/data
# HTTP (page, Socket.IO, API, WHIP/WHEP); WebRTC's one UDP port (ICE UDP mux, -webrtc-udp); ICE over TCP
# when -webrtc-tcp is :8189.
EXPOSE 8080/tcp 8189/udp 8189/tcp
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/hub", "healthcheck"]
ENTRYPOINT ["/hub"]
