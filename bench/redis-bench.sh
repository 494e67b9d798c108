#!/usr/bin/env bash
# The delivery queue on Redis (issue 17), with a Redis server of its own on a free loopback
# port (no persistence, a temporary directory), in one run:
#  1. workers: for each number of `tykhook work --concurrency 8` processes (1, 2, 4), a fresh
#     queue (a key prefix of its own) of M deliveries: posted to `tykhook listen --store
#     redis://... --forward-to APP` with the application down and each given up after one
#     attempt, then `tykhook queue retry --dead`. The workers then forward them to a local
#     application that waits 5 ms before each answer (load_application --delay-ms 5: 8 in
#     flight x 5 ms, so at most 1 600 deliveries/s per worker): the time from the workers'
#     start until the application has answered every delivery 200, as deliveries/s, and the
#     ratio to the first number of workers; with the CPU seconds that the workers, the
#     application and Redis used meanwhile;
#  2. receivers: `tykhook listen --store redis://...` (the idempotency claim alone) against
#     `tykhook listen --store redis://... --forward-to APP` (claim and queue entry in one
#     script, its own worker forwarding to the application, which answers at once), under wrk
#     at 16 connections (bench/listen-bench.sh --no-node), and the ratio.
#
#   bench/redis-bench.sh BUILD_DIR [--rounds R] [--deliveries M] [--workers LIST]
#                        [--seconds S] [--connections LIST] [--peers DIR]
#                        (defaults: 3 rounds, 3000 deliveries, workers 1,2,4, 3 s, 16)
# --rounds repeats both parts and prints medians [min..max]. BUILD_DIR holds tykhook and
# tests/load_application. Needs redis-server, redis-cli, wrk and the peers' directory
# (make-corpus.py and receiver-bench.sh; default ../shared/peers next to the repository).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; }
fail() { echo "redis-bench.sh: $*" >&2; exit 2; }
case "${1:-}" in -h|--help) usage; exit 0 ;; ""|-*) usage >&2; exit 2 ;; esac
[ -d "$1" ] || fail "$1: not a directory (give the build directory, e.g. build)"
build=$(cd "$1" && pwd)
shift
rounds=3 deliveries=3000 workers=1,2,4 seconds=3 conns=16 peers="$here/../../shared/peers"
concurrency=8 delay_ms=5
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "redis-bench.sh: $1 needs a value" >&2; usage >&2; exit 2; }
  case "$1" in
    --rounds) rounds="$2" ;;
    --deliveries) deliveries="$2" ;;
    --workers) workers="$2" ;;
    --seconds) seconds="$2" ;;
    --connections) conns="$2" ;;
    --peers) peers="$2" ;;
    *) echo "redis-bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift 2
done
for pair in "rounds:$rounds" "deliveries:$deliveries" "seconds:$seconds"; do
  [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || fail "--${pair%%:*} must be a positive whole number, not '${pair#*:}'"
done
for pair in "workers:$workers" "connections:$conns"; do
  [[ ${pair#*:} =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
    fail "--${pair%%:*} must be a comma-separated list of positive numbers, e.g. 1,2,4, not '${pair#*:}'"
done
for program in tykhook tests/load_application; do
  [ -x "$build/$program" ] || fail "no $build/$program; build it first (cmake --build $1)"
done
for tool in redis-server redis-cli wrk; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ -f "$peers/make-corpus.py" ] || fail "no make-corpus.py in $peers (--peers DIR)"
peers=$(cd "$peers" && pwd)
tykhook=$build/tykhook

work="$(mktemp -d "${TMPDIR:-/tmp}/redis-bench.XXXXXX")"
pids=() redis=""
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$redis" ]; then kill -TERM "$redis" 2>/dev/null || true; wait "$redis" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A Redis of our own (never 6391, where the tests' Redis runs).
redis_port=$(free_port)
while [ "$redis_port" = 6391 ]; do redis_port=$(free_port); done
mkdir "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" \
  --daemonize no >"$work/redis.log" 2>&1 &
redis=$!
until [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; do
  kill -0 "$redis" 2>/dev/null || { cat "$work/redis.log" >&2; fail "redis-server did not start"; }
  sleep 0.05
done
redis_uri=redis://127.0.0.1:$redis_port

secret="redis-bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$secret" >"$work/secret"
export PORTAL_WEBHOOKS_SECRET="$secret"
app_port=$(free_port)
app_url=http://127.0.0.1:$app_port/app
down_url=http://127.0.0.1:$(free_port)/app  # nothing listens there

# CPU seconds (user + system) that PID has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"
}

# fill_queue STORE: M fresh deliveries pending in STORE, through the real receiver.
fill_queue() {
  local store=$1 listen port queued
  "$tykhook" listen --port 0 --secret-file "$work/secret" --store "$store" --quiet \
    --forward-to "$down_url" --max-attempts 1 2>"$work/fill.log" &
  listen=$!
  pids+=("$listen")
  port=$(listen_port "$work/fill.log" "$listen")
  python3 "$peers/make-corpus.py" -n "$deliveries" --out "$work/corpus.jsonl" 2>/dev/null
  python3 - "http://127.0.0.1:$port/webhooks" "$work/corpus.jsonl" <<'EOF'
# Posts each delivery of a corpus (make-corpus.py's JSON lines) over 8 kept-alive connections
# and fails unless every one is answered 200.
import http.client, json, sys, threading, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
lines = open(sys.argv[2]).read().splitlines()
refused = []
def post(part):
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    for line in part:
        delivery = json.loads(line)
        connection.request("POST", url.path, body=delivery["body"].encode(), headers={
            "Content-Type": "application/json", "X-Signature-SHA256": delivery["signature"]})
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            refused.append(answer.status)
threads = [threading.Thread(target=post, args=(lines[i::8],)) for i in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
if refused:
    sys.exit(f"redis-bench.sh: {len(refused)} of {len(lines)} deliveries not answered 200 "
             f"(first: {refused[0]})")
EOF
  # Each one fails its one attempt (nothing listens at the target) and is given up.
  local last=-1 count since=$SECONDS
  until count=$("$tykhook" queue list --store "$store" --state dead --limit 1000000 | wc -l) &&
    [ "$count" -ge "$deliveries" ]; do
    [ "$count" = "$last" ] || { last=$count since=$SECONDS; }
    ((SECONDS - since < 30)) || fail "filling the queue: $count of $deliveries dead after 30 s without progress"
    kill -0 "$listen" 2>/dev/null || { cat "$work/fill.log" >&2; fail "listen stopped while filling the queue"; }
    sleep 0.2
  done
  kill -TERM "$listen"
  wait "$listen" || true
  "$tykhook" queue retry --store "$store" --dead >/dev/null 2>"$work/retry.log"
  queued=$("$tykhook" queue list --store "$store" --state pending --limit 1000000 | wc -l)
  [ "$queued" = "$deliveries" ] || fail "filling the queue: $queued pending, not $deliveries"
}

echo "redis-bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)  $(redis-server --version | cut -d' ' -f1-3)"

# 1. Workers.
: >"$work/workers"
for round in $(seq 1 "$rounds"); do
  for count in ${workers//,/ }; do
    store="$redis_uri?prefix=bench-$round-$count:"
    fill_queue "$store"
    successes=$work/successes-$round-$count
    "$build/tests/load_application" --port "$app_port" --fail-share 0 --delay-ms "$delay_ms" \
      --successes "$successes" 2>"$work/application.log" &
    app=$!
    pids+=("$app")
    wait_port "$app_port" "$app" || fail "load_application did not start"
    redis_before=$(cpu_seconds "$redis")
    started=()
    start=$(date +%s.%N)
    for i in $(seq 1 "$count"); do
      "$tykhook" work --store "$store" --forward-to "$app_url" --concurrency "$concurrency" \
        --quiet 2>"$work/work-$i.log" &
      started+=($!)
      pids+=($!)
    done
    # Done when the application has answered every queued delivery (its file, not the store, is
    # watched: the watching takes nothing from the workers but a little CPU).
    last=-1 since=$SECONDS
    until delivered=$(sort -u "$successes" | wc -l) && [ "$delivered" -ge "$deliveries" ]; do
      [ "$delivered" = "$last" ] || { last=$delivered since=$SECONDS; }
      ((SECONDS - since < 30)) || fail "$count workers: $delivered of $deliveries delivered after 30 s without progress"
      for pid in "${started[@]}"; do
        kill -0 "$pid" 2>/dev/null || { cat "$work"/work-*.log >&2; fail "a worker stopped"; }
      done
      sleep 0.02
    done
    end=$(date +%s.%N)
    cpu_workers=0
    for pid in "${started[@]}"; do
      cpu_workers=$(python3 -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" \
        "$cpu_workers" "$(cpu_seconds "$pid")")
    done
    cpu_app=$(cpu_seconds "$app") cpu_redis=$(cpu_seconds "$redis")
    kill -TERM "${started[@]}" "$app"
    wait "${started[@]}" "$app" || true
    python3 - "$round" "$count" "$deliveries" "$start" "$end" "$cpu_workers" "$cpu_app" \
      "$redis_before" "$cpu_redis" <<'EOF' | tee -a "$work/workers"
import sys
r, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start, end, workers, app, redis0, redis1 = map(float, sys.argv[4:])
s = end - start
print(f"round {r}: {n} workers: {d} delivered in {s:.2f} s: {d / s:.0f} deliveries/s;"
      f" CPU s: workers {workers:.2f}, application {app:.2f}, redis {redis1 - redis0:.2f}"
      f" (of {2 * s:.2f} on 2 CPUs)")
EOF
  done
done
python3 - "$work/workers" "$rounds" "$delay_ms" "$concurrency" <<'EOF'
import re, statistics, sys
path, rounds, delay, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
runs = {}
for line in open(path):
    m = re.match(r"round \d+: (\d+) workers: .*: (\d+) deliveries/s", line)
    if m:
        runs.setdefault(int(m.group(1)), []).append(float(m.group(2)))
ceiling = concurrency * 1000 / delay
print(f"workers (--concurrency {concurrency}, application --delay-ms {delay}: at most"
      f" {ceiling:.0f} deliveries/s per worker), median [min..max] over {rounds} rounds:")
base = statistics.median(runs[min(runs)])
for n in sorted(runs):
    m = statistics.median(runs[n])
    print(f"  {n} workers: {m:>6.0f} [{min(runs[n]):.0f}..{max(runs[n]):.0f}] deliveries/s;"
          f" {m / base:.2f}x {min(runs)} worker(s); {m / (n * ceiling):.2f} of {n} x {ceiling:.0f}")
EOF

# 2. Receivers: the Redis claim alone against the Redis queue.
"$build/tests/load_application" --port "$app_port" --fail-share 0 \
  --successes "$work/successes-receivers" 2>"$work/application.log" &
pids+=($!)
wait_port "$app_port" $! || fail "load_application did not start"
"$here/listen-bench.sh" --no-node --peers "$peers" --rounds "$rounds" --seconds "$seconds" \
  --connections "$conns" \
  "$tykhook --store $redis_uri?prefix=claim:" \
  "$tykhook --store $redis_uri?prefix=queue: --forward-to $app_url" | tee "$work/listen-bench"
python3 - "$work/listen-bench" <<'EOF'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+) (tykhook-\d)\s+(\d+)", line)
    if m:
        rows[(int(m.group(1)), m.group(2))] = float(m.group(3))
for conns in sorted({c for c, _ in rows}):
    claim, queue = rows.get((conns, "tykhook-0")), rows.get((conns, "tykhook-1"))
    if claim and queue:
        print(f"receivers, {conns} connections: Redis claim alone {claim:.0f} req/s,"
              f" Redis queue {queue:.0f} req/s: {queue / claim:.2f}x")
EOF
echo "redis-bench done  $(date -u +%Y-%m-%dT%H:%M:%SZ)  load average $(cut -d' ' -f1-3 /proc/loadavg)"
