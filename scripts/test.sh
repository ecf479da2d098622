#!/usr/bin/env bash
# The whole test suite, as CI runs it: system dependencies, formatting and lints, the Rust tests,
# the JS runtime's unit tests, the browser tests of the example apps and, when nightly is there, the
# fuzz targets.
#
#   scripts/test.sh
#
# On a fresh Debian machine as root it installs what is missing (Chromium, Redis); otherwise it says
# what to install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

step "system dependencies"
missing=()
have chromium || missing+=(chromium)
have redis-server || missing+=(redis-server)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (Debian: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
if ! have node || ! have npm; then
  echo "missing: node and npm (Node.js 20.19 or newer; Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
have cargo-nextest || cargo install cargo-nextest --locked

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests"
cargo nextest run --workspace --locked
cargo test --workspace --doc --locked

step "fuzz targets (nightly), started in the background beside the steps below"
# Each target for 30 s (scripts/fuzz.sh), at low priority; its result is awaited at the end.
# Without nightly the kept corpus was still checked: the Rust tests replay it on stable.
fuzz_pid=
if cargo +nightly --version >/dev/null 2>&1; then
  have cargo-fuzz || cargo install cargo-fuzz --locked
  mkdir -p fuzz/target
  fuzz_log=fuzz/target/fuzz.log
  setsid nice -n 19 scripts/fuzz.sh 30 >"$fuzz_log" 2>&1 &
  fuzz_pid=$!
  # Should a step below fail, the fuzzing (its whole process group) stops with the script.
  trap '[ -z "$fuzz_pid" ] || kill -- "-$fuzz_pid" 2>/dev/null || true' EXIT
else
  echo "no nightly toolchain (cargo +nightly): fuzz targets not run"
fi

step "deployment artifacts (Helm chart, compose file, Dockerfile), validated offline"
scripts/validate-deploy.sh

step "JS runtime unit tests"
node --test compiler/runtime/

step "browser tests (headless Chromium), embedded mode and distributed stack"
cargo build -p counter -p todo -p blog -p gallery -p dashboard -p uploads --locked
(cd e2e && npm install --no-audit --no-fund --loglevel=error)
(cd e2e && REFRACT_E2E_MODE=embedded node --test --test-concurrency=1)
(cd e2e && REFRACT_E2E_MODE=stack node --test --test-concurrency=1)

if [ -n "$fuzz_pid" ]; then
  step "fuzz targets: result"
  fuzz_status=0
  wait "$fuzz_pid" || fuzz_status=$?
  fuzz_pid=
  cat "$fuzz_log"
  exit "$fuzz_status"
fi
