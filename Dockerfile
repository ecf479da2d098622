# syntax=docker/dockerfile:1.7
#
# Refract's images, for one app of this workspace (APP, a package name: counter, todo, github):
#
#   docker build --target gateway --build-arg APP=counter -t refract-counter-gateway .
#   docker build --target worker  --build-arg APP=counter -t refract-counter-worker .
#
# * gateway: the generic `refract-gateway` and the app's exported static assets (/srv/assets);
#   it runs no app code, so one gateway image serves one app's frontend.
# * worker: the app's binary, started as `worker` (gRPC on 0.0.0.0:50051, grpc.health.v1).
#
# Both run as an unprivileged user (uid 10001) on Debian slim; their Docker HEALTHCHECK is the
# binaries' own `healthcheck` command (gateway: GET /_health; worker: grpc.health.v1). Needs BuildKit
# (the default builder of Docker 23+) for the cache mounts. docs/deploy.md has the details.

ARG RUST_IMAGE=rust:1.95-slim-trixie
ARG RUNTIME_IMAGE=debian:trixie-slim

# ---------------------------------------------------------------------------------------------
# Builder: Rust for the binaries, Node.js (Debian trixie's 20.19, what Vite 7 needs) for `export`.
FROM ${RUST_IMAGE} AS builder
ARG APP=counter
# Cargo profile of the binaries: release, or dev for a quick debug build.
ARG PROFILE=release

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The target folder and the registries are BuildKit cache mounts (kept between builds, absent
# from the image), so the binaries are copied out in the same step. Two cargo builds: built
# together, cargo would unify features and link the gateway's Kubernetes client (feature
# `kubernetes`) into the app's binary too.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eux; \
    cargo build --locked --profile "$PROFILE" -p refract-gateway; \
    cargo build --locked --profile "$PROFILE" -p "$APP"; \
    case "$PROFILE" in dev) dir=debug ;; *) dir="$PROFILE" ;; esac; \
    mkdir -p /out/bin; \
    cp "target/$dir/refract-gateway" /out/bin/refract-gateway; \
    cp "target/$dir/$APP" /out/bin/refract-app

# The app compiles its pages into a Vite project, runs `npm install` and `vite build`, and writes
# the static assets the gateway serves.
RUN --mount=type=cache,target=/root/.npm \
    /out/bin/refract-app export --build-dir /tmp/web --out /out/assets \
    && test -f /out/assets/index.html

# ---------------------------------------------------------------------------------------------
# Common runtime: Debian slim, CA certificates (handlers may call HTTPS APIs), a non-root user.
FROM ${RUNTIME_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 refract \
    && useradd --system --uid 10001 --gid refract --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin refract \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/refract/uploads
# The upload folder (docs/uploads.md): workers keep uploads there, the gateway serves the files
# the app published from it, so a deployment mounts one volume there in both (docker-compose.yml).
ENV RUST_LOG=info \
    REFRACT_UPLOAD_DIR=/var/lib/refract/uploads

# ---------------------------------------------------------------------------------------------
# Gateway: WebSockets, routing to workers, the delta relay, the app's static assets.
FROM runtime AS gateway
ARG APP=counter
LABEL org.opencontainers.image.title="refract-gateway (${APP})" \
      org.opencontainers.image.description="Refract gateway with the exported assets of ${APP}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/bin/refract-gateway /usr/local/bin/refract-gateway
COPY --from=builder /out/assets /srv/assets
ENV REFRACT_HOST=0.0.0.0 \
    REFRACT_PORT=3000 \
    REFRACT_ASSETS=/srv/assets
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["refract-gateway", "healthcheck"]
# Options: --workers a:p,b:p | --workers-dns NAME:PORT | --workers-k8s-service NAME, --redis URL,
# --secret (or REFRACT_WORKERS, REFRACT_WORKERS_DNS, REFRACT_REDIS, REFRACT_SECRET).
ENTRYPOINT ["/usr/local/bin/refract-gateway"]

# ---------------------------------------------------------------------------------------------
# Worker: the app's handlers over gRPC; state in Redis (--redis or REFRACT_REDIS).
FROM runtime AS worker
ARG APP=counter
LABEL org.opencontainers.image.title="refract-worker (${APP})" \
      org.opencontainers.image.description="Refract worker of the app ${APP}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/bin/refract-app /usr/local/bin/refract-app
ENV REFRACT_WORKER_LISTEN=0.0.0.0:50051
USER 10001:10001
# 50051: gRPC (refract.v1 and grpc.health.v1); 9090: metrics (/metrics).
EXPOSE 50051 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["refract-app", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/refract-app", "worker"]
