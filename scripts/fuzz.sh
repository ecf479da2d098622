#!/usr/bin/env bash
# Runs each fuzz target of fuzz/ (cargo-fuzz, libFuzzer; needs `cargo +nightly` and cargo-fuzz) for
# a bounded time, starting from its kept corpus; exits non-zero if any crashed, naming the input.
#
#   scripts/fuzz.sh [SECONDS]          each target for SECONDS (default 30)
#
#   FUZZ_TARGETS="frame shard"         only these targets (default: all of `cargo fuzz list`)
#   FUZZ_SANITIZER=address             build with AddressSanitizer (default none: the project's
#                                      code is safe Rust, and without it builds and runs are faster)
#
# The kept corpus (fuzz/corpus/<target>/) is only read: the inputs a run finds interesting go to
# fuzz/target/corpus/<target>/, to be merged into the kept corpus by hand (docs/security.md). A
# crashing input is written to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-30}
sanitizer=${FUZZ_SANITIZER:-none}
read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo +nightly fuzz list | tr '\n' ' ')}"

mkdir -p target
if ! cargo +nightly fuzz build -s "$sanitizer" >target/fuzz-build.log 2>&1; then
  tail -n 40 target/fuzz-build.log >&2
  echo "fuzz: the targets do not build (log: fuzz/target/fuzz-build.log)" >&2
  exit 1
fi

status=0
for target in "${targets[@]}"; do
  scratch=target/corpus/$target
  log=target/fuzz-$target.log
  mkdir -p "$scratch"
  # -timeout: an input that runs longer than 10 s is a hang, reported as a crash.
  if cargo +nightly fuzz run -s "$sanitizer" "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    echo "fuzz $target: ${done_line:-done} (log: fuzz/$log)"
  else
    status=1
    echo "fuzz $target: FAILED (log: fuzz/$log)" >&2
    # What failed: the panic (or the hang, or the memory limit) and its first frames.
    grep -m 1 -A 12 -E 'panicked at|ERROR: libFuzzer' "$log" >&2 || tail -n 30 "$log" >&2
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -n 1)
    if [ -n "$input" ]; then
      echo "fuzz $target: crashing input $input" >&2
      echo "  reproduce: (cd fuzz && cargo +nightly fuzz run -s $sanitizer $target $input)" >&2
    fi
  fi
done
exit "$status"
