# syntax=docker/dockerfile:1
# The ivs-ingest image: a static binary on distroless, running as non-root.
#   docker build -t ivs-ingest --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 8080:8080 --env-file ivs-ingest.env ivs-ingest            # serve
#   docker run --env-file ivs-ingest.env ivs-ingest migrate                 # or doctor, rotate-expired...
# Not built in CI (no container engine there); see docs/deploy.md, "Container".

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
# CGO off: a static binary (the embedded SQLite store is pure Go) that runs
# on distroless/static, which has no libc.
RUN CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X github.com/ivs-ingest/ivs-ingest/internal/version.tag=${VERSION}" \
	-o /out/ivs-ingest ./cmd/ivs-ingest

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ivs-ingest /usr/local/bin/ivs-ingest
# nonroot is uid 65532; nothing is written to the image's filesystem.
USER 65532:65532
ENV PORT=8080
EXPOSE 8080
# distroless has no shell or curl: the binary probes its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
	CMD ["/usr/local/bin/ivs-ingest", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ivs-ingest"]
CMD ["serve"]
