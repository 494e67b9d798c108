#!/usr/bin/env bash
# How fast `tykhook work` hands queued deliveries on to a local application: queues N
# deliveries in a SQLite store (through `tykhook listen` under load_client, the application
# down, each given up after one attempt; then `tykhook queue retry --dead`), then starts the
# application (load_application, answering every request 200) and times `tykhook work` with
# each --concurrency given until nothing is pending. Prints deliveries per second, per round.
#
#   bench/forward-bench.sh BUILD_DIR [SECONDS_OF_LOAD] [CONCURRENCY ...]    (default: 2 s; 8)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
build=$(cd "${1:?usage: forward-bench.sh BUILD_DIR [SECONDS] [CONCURRENCY ...]}" && pwd)
seconds=${2:-2}
shift $(($# >= 2 ? 2 : $#))
concurrencies=("${@:-8}")
tykhook=$build/tykhook
work=$(mktemp -d "${TMPDIR:-/tmp}/forward-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
printf 'forward-bench-secret\n' >"$work/secret"
app_port=$(free_port)
app_url=http://127.0.0.1:$app_port/app

for concurrency in "${concurrencies[@]}"; do
  store=sqlite:$work/queue-$concurrency.db
  "$tykhook" listen --port 0 --secret-file "$work/secret" --store "$store" --quiet \
    --forward-to "$app_url" --max-attempts 1 2>"$work/listen.log" &
  listen=$!
  pids+=("$listen")
  until port=$(sed -n '1s|^tykhook listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$work/listen.log") &&
    [[ -n $port ]] && grep -q '^tykhook listen: kept:' "$work/listen.log"; do sleep 0.1; done
  "$build/tests/load_client" run --url "http://127.0.0.1:$port/" --secret-file "$work/secret" \
    --records "$work/records" --summary "$work/summary" --connections 16 \
    --duration "$seconds" --expect tolerant >/dev/null
  kill -TERM "$listen"
  wait "$listen" || true
  "$tykhook" queue retry --store "$store" --dead 2>"$work/retry.log"
  queued=$("$tykhook" queue list --store "$store" --state pending --limit 1000000 | wc -l)

  "$build/tests/load_application" --port "$app_port" --fail-share 0 \
    --successes "$work/successes-$concurrency" 2>/dev/null &
  app=$!
  pids+=("$app")
  until (: >"/dev/tcp/127.0.0.1/$app_port") 2>/dev/null; do sleep 0.05; done
  start=$(date +%s.%N)
  "$tykhook" work --store "$store" --forward-to "$app_url" --concurrency "$concurrency" \
    --quiet 2>"$work/work.log" &
  worker=$!
  pids+=("$worker")
  # Done when the application has answered every queued delivery once (watching its file, not
  # the store, so that the watching takes no lock the worker needs).
  while [[ $(sort -u "$work/successes-$concurrency" | wc -l) -lt $queued ]]; do
    sleep 0.02
  done
  end=$(date +%s.%N)
  kill -TERM "$worker" "$app"
  wait "$worker" "$app" || true
  delivered=$(sort -u "$work/successes-$concurrency" | wc -l)
  python3 -c "import sys; q, d, s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[4]) - float(sys.argv[3]); \
print(f'concurrency {sys.argv[5]}: {q} queued, {d} delivered in {s:.2f} s: {d / s:.0f} deliveries/s')" \
    "$queued" "$delivered" "$start" "$end" "$concurrency"
done
