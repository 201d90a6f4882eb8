# Hangar's container image: the static binary, CA certificates and
# nothing else (no shell), run as a user that is not root, its data in
# the /data volume.
#
#   podman build --format docker -t hangar .     # or: docker build -t hangar .
#   podman run -d --name hangar -p 8080:8080 -v hangar-data:/data hangar
#   podman cp hangar:/data/initial-admin-credentials -   # the first admin's token and password
#
# --format docker keeps the HEALTHCHECK (OCI images have none). See
# compose.yaml for a fuller example and docs/operations.md for the rest.

# The toolchain image; CI passes one made from the machine's Go, as it
# cannot pull this one.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -buildvcs=false -ldflags "-X main.version=${VERSION}" -o /out/hangar . \
 && mkdir -p /out/data /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

FROM scratch
COPY --from=build /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/hangar /hangar
COPY container/config.toml /etc/hangar/config.toml
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
# hangar health asks /readyz on the configured listener (HANGAR_LISTEN
# overrides it, as it does serve's).
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s CMD ["/hangar", "health", "-config", "/etc/hangar/config.toml"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/hangar"]
CMD ["serve", "-config", "/etc/hangar/config.toml"]
