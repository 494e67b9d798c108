#!/usr/bin/env bash
# The receiver under wrk, side by side with the Node peer, with its memory: runs each
# `tykhook listen` given and the Node peer's receiver.js in turn, round by round, through the
# peers' receiver-bench.sh (fresh signed deliveries), and prints medians, ratios against the
# Node peer, and each receiver's resident size idle (VmRSS) and at its peak (VmHWM).
#
#   bench/listen-bench.sh [options] TYKHOOK [TYKHOOK ...]
#
# A TYKHOOK may carry options of its own in the same word: "build-bench/tykhook --threads 16".
#   --durable           start tykhook with the durable default: --store sqlite:FILE and
#                       --capture-dir DIR, in a fresh directory under $TMPDIR (default: --store memory:;
#                       a TYKHOOK or --args with a --store of its own keeps it)
#   --args "A B"        more options for every tykhook listen (e.g. "--threads 16")
#   --seconds S         one wrk run (default 3)
#   --rounds R          rounds (default 3)
#   --connections LIST  comma-separated (default 1,16)
#   --no-node           leave the Node peer out (ratios are then against the first TYKHOOK)
#   --peers DIR         the peers' directory (default ../shared/peers next to the repository)
#   --pin               run every receiver on CPU 1 and the load generator on CPU 0 (taskset),
#                       as a receiver never shares a CPU with the portal; without it the
#                       scheduler sometimes puts both on one CPU, which at 1 connection saves
#                       the cross-CPU wake-ups and changes req/s by 2x from run to run
# Every receiver logs one line per request to a file, as compare.sh runs them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; }
secs=3 rounds=3 conns="1,16" durable=0 node=1 extra="" peers="$here/../../shared/peers"
server_cpu=() client_cpu=()
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --durable) durable=1; shift ;;
    --args) extra="$2"; shift 2 ;;
    --seconds) secs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --no-node) node=0; shift ;;
    --peers) peers="$2"; shift 2 ;;
    --pin) server_cpu=(taskset -c 1) client_cpu=(taskset -c 0); shift ;;
    -*) echo "listen-bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || { usage >&2; exit 2; }
peers="$(cd "$peers" && pwd)"
[ -x "$peers/receiver-bench.sh" ] || { echo "listen-bench.sh: no receiver-bench.sh in $peers" >&2; exit 2; }
[ $node = 0 ] || "$peers/setup.sh" >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/listen-bench.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

secret="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PORTAL_WEBHOOKS_SECRET="$secret" TYKHOOK_BENCH_SECRET="$secret" TYKHOOK_BENCH_FRESH=1
names=() urls=() spids=()
if [ $node = 1 ]; then
  p="$(free_port)"
  "${server_cpu[@]}" node "$peers/receiver.js" --port "$p" --log 2>"$work/node.log" &
  pids+=($!)
  wait_port "$p" $! || { cat "$work/node.log" >&2; exit 1; }
  names+=(node-receiver) urls+=("http://127.0.0.1:$p/webhooks") spids+=($!)
fi
for i in "${!bins[@]}"; do
  p="$(free_port)"
  store=(--store memory:)
  [ $durable = 0 ] || store=(--store "sqlite:$work/$i.db" --capture-dir "$work/captures-$i")
  read -r -a own <<<"${bins[$i]}"
  [[ " ${own[*]:1} $extra " != *" --store "* ]] || store=()  # a store of its own
  # shellcheck disable=SC2086
  "${server_cpu[@]}" "$(realpath "${own[0]}")" listen --port "$p" "${store[@]}" $extra "${own[@]:1}" \
    2>"$work/tykhook-$i.log" &
  pids+=($!)
  wait_port "$p" $! || { cat "$work/tykhook-$i.log" >&2; exit 1; }
  names+=("tykhook-$i") urls+=("http://127.0.0.1:$p/webhooks") spids+=($!)
done

sleep 1
idle=()
for pid in "${spids[@]}"; do idle+=("$(status_kb "$pid" VmRSS)"); done

results="$work/results"
: >"$results"
for c in ${conns//,/ }; do
  for i in "${!names[@]}"; do  # warm-up, not counted
    "${client_cpu[@]}" "$peers/receiver-bench.sh" "${urls[$i]}" 1 "$c" >/dev/null 2>&1 || true
  done
done
for r in $(seq 1 "$rounds"); do
  for c in ${conns//,/ }; do
    n=${#names[@]}
    for k in $(seq 0 $((n - 1))); do
      i=$(((k + r) % n))  # the order rotates every round
      line="$("${client_cpu[@]}" "$peers/receiver-bench.sh" "${urls[$i]}" "$secs" "$c" 2>/dev/null | tail -1)"
      echo "${names[$i]} $c $line load=$(cut -d' ' -f1 /proc/loadavg)" >>"$results"
    done
  done
done
peak=()
for pid in "${spids[@]}"; do peak+=("$(status_kb "$pid" VmHWM)"); done

echo "listen-bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)$([ ${#server_cpu[@]} = 0 ] || echo "  pinned: receivers CPU 1, wrk CPU 0")  store: $([ $durable = 1 ] && echo 'sqlite + capture directory' || echo memory:)"
for i in "${!bins[@]}"; do echo "tykhook-$i: ${bins[$i]} $extra"; done
python3 - "$results" "$rounds" "${names[@]}" <<'EOF'
import statistics, sys
path, rounds, names = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = {}
for line in open(path):
    parts = line.split()
    fields = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
    if "rps" not in fields:
        continue
    runs.setdefault((parts[0], int(parts[1])), []).append(fields)
def med(key, name, c):
    values = [float(f[key]) for f in runs.get((name, c), [])]
    return (statistics.median(values), min(values), max(values)) if values else None
base = names[0]
print(f"median [min..max] over {rounds} rounds; ratio: req/s of the row / req/s of {base}")
print(f"{'conns':>5} {'receiver':<15} {'req/s':>22} {'ratio':>6} {'p50 ms':>6} {'p99 ms':>20} {'non2xx':>6}")
for c in sorted({c for _, c in runs}):
    b = med("rps", base, c)
    for name in names:
        rps, p50, p99 = med("rps", name, c), med("p50_ms", name, c), med("p99_ms", name, c)
        if rps is None:
            continue
        bad = sum(int(f.get("non2xx", 0)) for f in runs[(name, c)])
        print(f"{c:>5} {name:<15} {rps[0]:>8.0f} [{rps[1]:>5.0f}..{rps[2]:>5.0f}] "
              f"{rps[0] / b[0]:>6.2f} {p50[0]:>6.2f} {p99[0]:>6.2f} [{p99[1]:.2f}..{p99[2]:.2f}] {bad:>6}")
EOF
for i in "${!names[@]}"; do
  echo "${names[$i]}: resident ${idle[$i]} kB idle, peak ${peak[$i]} kB (VmRSS, VmHWM)"
done
