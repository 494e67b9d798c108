#!/usr/bin/env bash
# Runs fuzz targets built in BUILD (make fuzz builds them), each for SECONDS, with its seeds,
# its regression inputs and the dictionary. Fails when any target finds a crash, a leak, a
# timeout or a broken check; the input that did it is left in BUILD/fuzz/artifacts/TARGET/.
#
#   tests/fuzz/run_fuzzers.sh BUILD SECONDS [TARGET...]     (default: every target)
#
# FUZZ_JOBS (default: the number of processors) targets run side by side.
#
# The working corpus of each target is BUILD/fuzz/corpus/TARGET: seeded from samples/ and
# tests/fuzz/seeds/ on every run, and kept between runs (it is never committed). Each run's
# output is in BUILD/fuzz/logs/TARGET.log; a summary line per target goes to standard output.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD SECONDS [TARGET...]" >&2
  exit 2
fi
build=$1
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture signature timestamp envelope messages verifier request_head)

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fuzz_dir="$source_dir/tests/fuzz"
samples="$source_dir/samples"
work="$build/fuzz"

# The largest input each target is given: a whole capture or body (the verifier's default body
# limit is 1 MiB, plus its mode byte); short texts for the header value and the time.
max_len() {
  case $1 in
    signature) echo 256 ;;
    timestamp) echo 128 ;;
    messages | request_head) echo 65536 ;;
    verifier) echo 1048577 ;;
    *) echo 1048576 ;;
  esac
}

# Copies `files` into `corpus`, each with the byte `prefix` (two hex digits, or "") before it.
add_seeds() {
  local corpus=$1 prefix=$2
  shift 2
  local file
  for file in "$@"; do
    [ -f "$file" ] || continue
    local name="seed-${prefix:-raw}-$(basename "$file")"
    if [ -n "$prefix" ]; then
      { printf "\\x$prefix"; cat "$file"; } >"$corpus/$name"
    else
      cp "$file" "$corpus/$name"
    fi
  done
}

seed() {
  local target=$1 corpus=$2
  case $target in
    capture) add_seeds "$corpus" "" "$samples"/captures/* "$samples"/bodies/* "$fuzz_dir"/seeds/capture/* ;;
    signature | timestamp) add_seeds "$corpus" "" "$fuzz_dir/seeds/$target"/* ;;
    envelope | messages) add_seeds "$corpus" "" "$samples"/bodies/* ;;
    request_head) add_seeds "$corpus" "" "$samples"/captures/* "$fuzz_dir"/seeds/request_head/* ;;
    verifier)
      # Mode byte (verifier_fuzz.cpp): 00 sign the body, 04 the same with a tolerance,
      # 01 read a capture, 0d a capture with a tolerance and a 256-byte body limit.
      add_seeds "$corpus" 00 "$samples"/bodies/*
      add_seeds "$corpus" 04 "$samples"/bodies/*
      add_seeds "$corpus" 01 "$samples"/captures/* "$fuzz_dir"/seeds/capture/*
      add_seeds "$corpus" 0d "$samples"/captures/*
      ;;
  esac
}

# Runs one target; its summary line goes to $work/logs/TARGET.summary, and the file
# $work/logs/TARGET.failed exists when it found something.
run_target() {
  local target=$1
  local binary="$build/tests/fuzz/fuzz_$target"
  local corpus="$work/corpus/$target"
  local artifacts="$work/artifacts/$target"
  local log="$work/logs/$target.log"
  local summary="$work/logs/$target.summary"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  rm -f "$work/logs/$target.failed" "$summary"
  seed "$target" "$corpus"
  local inputs=("$corpus")
  [ -d "$fuzz_dir/regressions/$target" ] && inputs+=("$fuzz_dir/regressions/$target")
  local status=0
  "$binary" "${inputs[@]}" \
    -dict="$fuzz_dir/tykhook.dict" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(max_len "$target")" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  local execs coverage
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$status" -eq 0 ]; then
    echo "fuzz $target: ok, ${seconds}s, ${execs:-?} executions, ${coverage:-cov: ?}, corpus $(ls "$corpus" | wc -l)" >"$summary"
  else
    {
      echo "fuzz $target: FAILED (exit $status) after ${execs:-?} executions; see $log and $artifacts/"
      grep -m 5 -E 'ERROR|fuzz check failed|SUMMARY|Test unit written' "$log" || true
    } >"$summary"
    touch "$work/logs/$target.failed"
  fi
}

for target in "${targets[@]}"; do
  if [ ! -x "$build/tests/fuzz/fuzz_$target" ]; then
    echo "fuzz $target: $build/tests/fuzz/fuzz_$target is missing; build it with make fuzz" >&2
    exit 2
  fi
done

# FUZZ_JOBS targets at once (default: one per processor); each still runs for SECONDS on a
# processor of its own, so running them side by side checks as much as one after another.
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
wait

failed=()
for target in "${targets[@]}"; do
  if [ -f "$work/logs/$target.summary" ]; then
    cat "$work/logs/$target.summary"
  else
    echo "fuzz $target: FAILED: it stopped before its summary; see $work/logs/$target.log"
    failed+=("$target")
    continue
  fi
  if [ -e "$work/logs/$target.failed" ]; then failed+=("$target"); fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) found problems: ${failed[*]}"
  exit 1
fi
