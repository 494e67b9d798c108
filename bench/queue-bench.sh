#!/usr/bin/env bash
# The delivery queue's figures (issue 16), side by side in one run:
#  1. an fsync probe on the disk under $TMPDIR: the median latency of appending 300 bytes to a
#     file and fdatasync-ing it, the floor of one durable commit;
#  2. the durable default with a target (`listen --store sqlite:FILE --forward-to APP`) and the
#     same receiver with `--store memory:` (what the CPUs allow), under wrk at each number of
#     connections (bench/listen-bench.sh), while a local application (load_application)
#     takes every forwarded delivery; the limit of the durable receiver is the lower of
#     (connections / one fsync's latency) and the memory receiver's req/s, and its share of
#     that limit is the figure (target: 0.7 or more);
#  3. the delay from the portal's answer to the application's first attempt, queue empty,
#     for both stores (bench/handoff_bench.cpp; target: p99 under 5 ms);
#  4. `tykhook work` forwarding a queue of deliveries to the application (bench/forward-bench.sh;
#     target: 5 000 deliveries/s or more).
#
#   bench/queue-bench.sh BUILD_DIR [--rounds R] [--seconds S] [--connections LIST]
#                        [--concurrency LIST]     (defaults: 3 rounds, 3 s, 16,64, 16,64)
#                        [--no-load]              (skips 2., which needs wrk and the peers'
#                                                  load driver: the smoke run of `make test`)
# BUILD_DIR holds tykhook, tests/load_application and bench/handoff_bench (a build configured
# with -DTYKHOOK_BUILD_BENCHMARKS=ON). Needs wrk (bench/listen-bench.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; "") usage >&2; exit 2 ;; esac
build=$(cd "$1" && pwd)
shift
rounds=3 seconds=3 conns=16,64 concurrency=16,64 load=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --no-load) load=0; shift ;;
    *) echo "queue-bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for program in tykhook tests/load_application bench/handoff_bench; do
  [ -x "$build/$program" ] || { echo "queue-bench.sh: no $build/$program; build it first" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/queue-bench.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "queue-bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. One fsync, on the disk that holds the SQLite file.
fsync_ms=$(python3 - "$work/probe" <<'EOF'
import os, statistics, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
times = []
for _ in range(300):
    start = time.perf_counter()
    os.write(fd, b"x" * 300)
    os.fdatasync(fd)
    times.append((time.perf_counter() - start) * 1000)
print(f"{statistics.median(times):.3f}")
EOF
)
echo "fsync probe: append 300 bytes + fdatasync, median of 300: $fsync_ms ms"

# 2. The durable default with a target, and the same receiver in memory, under load.
if [ $load = 1 ]; then  # (its body is not indented: it holds a Python heredoc)
app_port=$(free_port)
"$build/tests/load_application" --port "$app_port" --fail-share 0 --successes "$work/successes" \
  2>"$work/application.log" &
pids+=($!)
until (: >"/dev/tcp/127.0.0.1/$app_port") 2>/dev/null; do sleep 0.05; done
app="http://127.0.0.1:$app_port/app"
"$here/listen-bench.sh" --no-node --rounds "$rounds" --seconds "$seconds" --connections "$conns" \
  "$build/tykhook --store sqlite:$work/queue.db --forward-to $app" \
  "$build/tykhook --store memory: --forward-to $app" | tee "$work/listen-bench"
python3 - "$work/listen-bench" "$fsync_ms" <<'EOF'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+) (tykhook-\d)\s+(\d+)", line)
    if m:
        rows[(int(m.group(1)), m.group(2))] = float(m.group(3))
fsync = float(sys.argv[2])
print("durable default with a target (tykhook-0) against its limit, the lower of the disk's")
print("(connections / one fsync) and the CPUs' (tykhook-1, the same receiver in memory):")
for conns in sorted({c for c, _ in rows}):
    durable, memory = rows.get((conns, "tykhook-0")), rows.get((conns, "tykhook-1"))
    if durable is None or memory is None:
        continue
    disk = conns / (fsync / 1000)
    limit = min(disk, memory)
    print(f"  {conns:>3} connections: {durable:>7.0f} req/s; disk {disk:>7.0f}, CPUs {memory:>7.0f};"
          f" share of the limit {durable / limit:.2f}")
EOF
fi

# 3. From the answer to the application's first attempt, the queue empty.
printf 'queue-bench-secret-%s\n' "$RANDOM$RANDOM" >"$work/secret"
for store in "sqlite:$work/handoff.db" "memory:"; do
  handoff_app=$(free_port)
  "$build/tykhook" listen --port 0 --secret-file "$work/secret" --store "$store" --quiet \
    --forward-to "http://127.0.0.1:$handoff_app/app" 2>"$work/handoff-listen.log" &
  listen=$!
  pids+=("$listen")
  port=$(listen_port "$work/handoff-listen.log" "$listen")
  printf 'answer to first attempt, --store %s: ' "${store%%:*}:"
  "$build/bench/handoff_bench" --url "http://127.0.0.1:$port/" --secret-file "$work/secret" \
    --app-port "$handoff_app" --count 2000 | sed 's/^RESULT //'
  kill -TERM "$listen"
  wait "$listen" || true
done

# 4. `tykhook work` forwarding a full queue.
"$here/forward-bench.sh" "$build" "$seconds" ${concurrency//,/ }
