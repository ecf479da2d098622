# Refract's images, for one app of this workspace (APP, a package name: counter, todo, github):
#
#   docker build --target gateway --build-arg APP=counter -t refract-counter-gateway .
#   docker build --target worker  --build-arg APP=counter -t refract-counter-worker .
#
# * gateway: the generic `refract-gateway` and the app's exported static assets (/srv/assets);
#   it runs no app code, so one gateway image serves one app's frontend.
# * worker: the app's binary, started as `worker` (gRPC on 0.0.0.0:50051, grpc.health.v1).
#
# Both are a minimal root file system (glibc, libgcc, CA certificates, a passwd entry; no shell,
# no package manager) with one binary, run as an unprivileged user (uid 10001); their Docker
# HEALTHCHECK is the binary's own `healthcheck` command. Binaries use the Cargo profile `image`
# (release, no debug info, symbol names kept for backtraces). Needs BuildKit (the default builder
# of Docker 23+, DOCKER_BUILDKIT=1 before) for the cache mounts; Docker's built-in Dockerfile
# frontend is enough, so no frontend image is pulled. docs/deploy.md has the details.
#
# Stages, in cache order: nothing app-specific happens before `ARG APP`, and only the gateway target
# builds the frontend (Node.js, npm, Vite), so a worker image never runs npm.

ARG RUST_IMAGE=rust:1.95-slim-trixie
ARG RUNTIME_IMAGE=debian:trixie-slim

# ---------------------------------------------------------------------------------------------
# The runtime's files: glibc and libgcc (all the binaries link), CA certificates (handlers may
# call HTTPS APIs), users, a writable /tmp and the upload folder, gathered from Debian into /rootfs;
# and coreutils' `sleep` (it needs only glibc), which the Helm chart's preStop hooks run. The
# packages these files come from are recorded in /var/lib/dpkg/status.d (one stanza each, as
# distroless images do) with /etc/os-release, so image scanners can tell their versions.
FROM ${RUNTIME_IMAGE} AS runtime-files
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# hadolint ignore=SC2086
RUN set -eu; \
    mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp /rootfs/var/lib/refract/uploads; \
    for f in $(dpkg -L libc6 libgcc-s1); do \
      dir=$(realpath "$(dirname "$f")"); name=$(basename "$f"); \
      if [ -f "$dir/$name" ] || [ -L "$dir/$name" ]; then \
        mkdir -p "/rootfs$dir" && cp -a "$dir/$name" "/rootfs$dir/"; \
      fi; \
    done; \
    for link in /lib /lib64; do [ -L "$link" ] && cp -a "$link" /rootfs/; done; \
    rm -rf /rootfs/usr/share/doc /rootfs/usr/share/lintian; \
    cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/; \
    mkdir -p /rootfs/var/lib/dpkg/status.d; \
    for pkg in libc6 libgcc-s1 ca-certificates coreutils; do \
      dpkg-query --status "$pkg" > "/rootfs/var/lib/dpkg/status.d/$pkg"; \
    done; \
    cp /etc/os-release /rootfs/etc/os-release; \
    install -D /usr/bin/sleep /rootfs/usr/bin/sleep; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nrefract:x:10001:10001:refract:/nonexistent:/sbin/nologin\n' \
      > /rootfs/etc/passwd; \
    printf 'root:x:0:\nrefract:x:10001:\n' > /rootfs/etc/group; \
    printf 'hosts: files dns\n' > /rootfs/etc/nsswitch.conf; \
    chmod 1777 /rootfs/tmp; \
    chown 10001:10001 /rootfs/var/lib/refract/uploads; \
    chmod 0700 /rootfs/var/lib/refract/uploads

FROM scratch AS runtime
COPY --from=runtime-files /rootfs/ /
# The upload folder (docs/uploads.md): workers keep uploads there, the gateway serves the files
# the app published from it, so a deployment mounts one volume there in both (docker-compose.yml).
ENV RUST_LOG=info \
    REFRACT_UPLOAD_DIR=/var/lib/refract/uploads
USER 10001:10001

# ---------------------------------------------------------------------------------------------
# Builders. The target folder and the registries are BuildKit cache mounts (kept between builds,
# absent from the images), so each binary is copied out in the step that builds it. Gateway and
# app are separate cargo builds: built together, cargo would unify features and link the
# gateway's Kubernetes client (feature `kubernetes`) into the app's binary too.
FROM ${RUST_IMAGE} AS sources
WORKDIR /src
COPY . .

FROM sources AS gateway-binary
# Cargo profile: image (stripped release), release, or dev for a quick debug build.
ARG PROFILE=image
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eux; \
    cargo build --locked --profile "$PROFILE" -p refract-gateway; \
    case "$PROFILE" in dev) dir=debug ;; *) dir="$PROFILE" ;; esac; \
    install -D "target/$dir/refract-gateway" /out/refract-gateway

FROM sources AS app-binary
ARG APP=counter
ARG PROFILE=image
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eux; \
    cargo build --locked --profile "$PROFILE" -p "$APP"; \
    case "$PROFILE" in dev) dir=debug ;; *) dir="$PROFILE" ;; esac; \
    install -D "target/$dir/$APP" /out/refract-app

# Node.js (Debian trixie's 20.19, what Vite 7 needs) for `export`; the same for every app.
FROM ${RUST_IMAGE} AS node
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

# The app compiles its pages into a Vite project, runs `npm install` and `vite build`, and writes
# the static assets the gateway serves.
FROM node AS assets
COPY --from=app-binary /out/refract-app /usr/local/bin/refract-app
RUN --mount=type=cache,target=/root/.npm \
    refract-app export --build-dir /tmp/web --out /out/assets \
    && test -f /out/assets/index.html

# ---------------------------------------------------------------------------------------------
# Gateway: WebSockets, routing to workers, the delta relay, the app's static assets.
FROM runtime AS gateway
ARG APP=counter
LABEL org.opencontainers.image.title="refract-gateway (${APP})" \
      org.opencontainers.image.description="Refract gateway with the exported assets of ${APP}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=gateway-binary /out/refract-gateway /usr/local/bin/refract-gateway
COPY --from=assets /out/assets /srv/assets
# The binary runs on the runtime's libraries (no shell here, so the exec form).
RUN ["/usr/local/bin/refract-gateway", "--version"]
ENV REFRACT_HOST=0.0.0.0 \
    REFRACT_PORT=3000 \
    REFRACT_ASSETS=/srv/assets
# 3000: HTTP and WebSockets; 9090: metrics (/metrics).
EXPOSE 3000 9090
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
COPY --from=app-binary /out/refract-app /usr/local/bin/refract-app
RUN ["/usr/local/bin/refract-app", "--version"]
ENV REFRACT_WORKER_LISTEN=0.0.0.0:50051
# 50051: gRPC (refract.v1 and grpc.health.v1); 9090: metrics (/metrics).
EXPOSE 50051 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["refract-app", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/refract-app", "worker"]
