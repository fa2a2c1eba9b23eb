# syntax=docker/dockerfile:1
#
# csc-rfc2136 container image: a release build in a Rust stage, then a small Debian runtime
# holding the binary and CA certificates only, running as the unprivileged user 10001.
#
#   docker build -t csc-rfc2136 .
#   docker run -d --name csc-rfc2136 \
#     -p 53:53/udp -p 53:53/tcp -p 127.0.0.1:9153:9153/tcp \
#     -v /srv/csc-rfc2136/etc:/etc/csc-rfc2136:ro \
#     -v csc-rfc2136-state:/var/lib/csc-rfc2136 \
#     -e CSC_API_KEY -e CSC_BEARER_TOKEN \
#     csc-rfc2136
#
# The config is /etc/csc-rfc2136/csc-rfc2136.toml (start from packaging/docker/csc-rfc2136.toml):
# it must listen on 0.0.0.0:53 and set `server.http = "0.0.0.0:9153"`, which the health check
# reads. Check it first:  docker run --rm -v ...:/etc/csc-rfc2136:ro csc-rfc2136 check --config \
#                           /etc/csc-rfc2136/csc-rfc2136.toml
#
# Port 53 as a non-root user: the binary carries the file capability cap_net_bind_service (set
# in the build stage, where libcap2-bin is, so the runtime image needs no extra package). Docker
# (20.10 and later) also lets any container user bind low ports (it sets the namespaced sysctl
# net.ipv4.ip_unprivileged_port_start=0), so either way works. With `--cap-drop ALL`, add
# `--cap-add NET_BIND_SERVICE`: a binary with a file capability outside the bounding set does not
# start. With `--security-opt no-new-privileges`, file capabilities are ignored and the sysctl
# is what allows port 53 (`--sysctl net.ipv4.ip_unprivileged_port_start=0` where it is not the
# default).

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

# ---- build ----------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# benches/ is named by Cargo.toml's [[bench]], so the manifest needs it even for a release build.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY src ./src
# Cache mounts keep the registry and the build folder between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin csc-rfc2136 \
 && install -D -m 0755 target/release/csc-rfc2136 /out/csc-rfc2136 \
 && setcap cap_net_bind_service=+ep /out/csc-rfc2136 \
 && getcap /out/csc-rfc2136

# ---- runtime --------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 csc-rfc2136 \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/csc-rfc2136 --shell /usr/sbin/nologin csc-rfc2136 \
 && install -d -m 0700 -o 10001 -g 10001 /var/lib/csc-rfc2136 \
 && install -d -m 0755 /etc/csc-rfc2136
# BuildKit keeps the security.capability attribute set in the build stage.
COPY --from=builder --chmod=0755 /out/csc-rfc2136 /usr/local/bin/csc-rfc2136

LABEL org.opencontainers.image.title="csc-rfc2136" \
      org.opencontainers.image.description="RFC 2136 DNS UPDATE gateway for CSC Global Domain Manager" \
      org.opencontainers.image.licenses="Apache-2.0"

USER 10001:10001
# DNS (UDP and TCP) and the HTTP endpoint (/metrics, /healthz, /readyz, /status).
EXPOSE 53/udp 53/tcp 9153/tcp
# The journal of accepted changes, in-flight edits and owned records: keep it across restarts.
VOLUME ["/var/lib/csc-rfc2136"]
WORKDIR /var/lib/csc-rfc2136

# `status` asks the running gateway over server.http and exits 1 when the gateway reports itself
# not ready (CSC rejects the credentials, no zone list yet, journal not writable) or does not
# answer; no curl needed.
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/csc-rfc2136", "status", "--config", "/etc/csc-rfc2136/csc-rfc2136.toml"]

# SIGTERM stops the listeners, finishes journal commits and exits; in-flight edits resume at
# the next start.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/csc-rfc2136"]
CMD ["serve", "--config", "/etc/csc-rfc2136/csc-rfc2136.toml"]
