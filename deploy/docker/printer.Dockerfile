# syntax=docker/dockerfile:1
# The printer agent: it takes print jobs from RabbitMQ and prints them on the serial port.
#   docker build -f deploy/docker/printer.Dockerfile -t stagelink/printer .        (from the repository root)
# At run time it needs the printer's serial device, and a group that may open it (the image's user is
# 65532; the host's dialout group is usually 20):
#   docker run --device /dev/ttyUSB0 --group-add "$(getent group dialout | cut -d: -f3)" \
#     -e STAGELINK_PRINTER_AMQP -v stagelink-printer:/data stagelink/printer -serial /dev/ttyUSB0
# /data keeps printed.log, the record of printed job ids that makes a redelivery print nothing: keep it on
# a volume. The healthcheck reads the heartbeat file written every 10 s while the queue is connected.
# Checked by `go test ./deploy` (TestDockerfiles).

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH TARGETVARIANT
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} \
    go build -trimpath -ldflags="-s -w" -o /out/printer ./cmd/printer \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/printer /printer
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV STAGELINK_PRINTER_DATA=/data \
    STAGELINK_PRINTER_HEARTBEAT=/tmp/stagelink-printer.heartbeat
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/printer", "healthcheck"]
ENTRYPOINT ["/printer"]
