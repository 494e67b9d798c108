#!/usr/bin/env bash
# A smoke run of bench/queue-bench.sh for `make test`: a short round of its figures, so that the
# benchmark of issue 16 keeps running end to end (the fsync probe, handoff_bench against a
# receiver of each store, `tykhook work` emptying a queue into the application). Not the load on
# the receivers (--no-load): it needs wrk and the peers' load driver, outside the project. It
# checks that every figure is reported, and that every delivery queued for `work` was
# delivered; the figures themselves come from full runs (bench/README.md, "The delivery queue
# on SQLite").
#   queue-bench-smoke.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=$("$here/queue-bench.sh" "$1" --no-load --seconds 1 --concurrency 4 2>&1) || {
  echo "$out"
  echo "queue-bench-smoke: queue-bench.sh failed" >&2
  exit 1
}
echo "$out"
fail() {
  echo "queue-bench-smoke: $*" >&2
  exit 1
}
number='[0-9]+(\.[0-9]+)?'
grep -Eq "^fsync probe: .* $number ms$" <<<"$out" || fail "no fsync probe"
for store in sqlite memory; do
  grep -Eq "^answer to first attempt, --store $store:: deliveries=[1-9][0-9]* p50_ms=$number .*p99_ms=$number" \
    <<<"$out" || fail "no answer-to-attempt delay for $store"
done
line=$(grep -E '^concurrency 4: ' <<<"$out") || fail "no forwarding rate"
[[ $line =~ ^concurrency\ 4:\ ([0-9]+)\ queued,\ ([0-9]+)\ delivered\ in\ .*\ ([0-9]+)\ deliveries/s$ ]] ||
  fail "a forwarding line that does not read: $line"
((BASH_REMATCH[1] > 0)) || fail "nothing was queued for work"
((BASH_REMATCH[1] == BASH_REMATCH[2])) ||
  fail "work delivered ${BASH_REMATCH[2]} of ${BASH_REMATCH[1]} deliveries queued"
echo "queue-bench-smoke: every figure reported; work delivered all ${BASH_REMATCH[2]}"
