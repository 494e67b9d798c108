#!/usr/bin/env bash
# Load and fault tests of `tykhook listen`, on loopback only, each bounded in time.
#   load_test.sh SCENARIO BUILD_DIR [SECONDS] [CONNECTIONS] [MAX_RSS_KB]
# Scenarios:
#   load    a mix of valid, duplicate, badly signed and schema-violating deliveries for SECONDS
#           (default 10) from CONNECTIONS keep-alive connections (default 64): no 5xx, no
#           connection error, every answer as designed, every acknowledged delivery captured
#           exactly once, the receiver's peak resident memory (VmHWM) under MAX_RSS_KB (default
#           131072; 0: no bound, for sanitized builds); prints the figures. The store is
#           $LOAD_STORE when set (e.g. memory:), else a SQLite file
#   kill    kill -9 the receiver in the middle of a run; restarted on the same SQLite store and
#           capture directory it starts cleanly, every acknowledged delivery has one complete
#           capture, and each is a duplicate when sent again
#   redis   the Redis server is killed and restarted under load: deliveries are answered 503
#           while no claim can be recorded, and 200 again once it is back, without restarting
#           the receiver; the Redis password is never printed. Skipped (exit status 77)
#           without redis-server, unless CI is set
#   forward the load above with --forward-to a flaky application (load_application: 30 % of
#           attempts answered 503 at random): every answer as designed and at once; then every
#           acknowledged ok delivery reaches the application, and is answered 200 by it exactly
#           once (a success is never repeated); none is dead or left waiting
#   secrets no secret (webhook secret from a file, an option or the environment, the required
#           header's value, in raw, hex and base64 forms) appears in any output, log, metrics
#           or capture file
# Exit status 0 when every check passed; each failure is explained on standard error.
set -euo pipefail

scenario=${1:?usage: load_test.sh load|kill|redis|secrets|forward BUILD_DIR [SECONDS] [CONNECTIONS] [MAX_RSS_KB]}
build_dir=$(cd "${2:?BUILD_DIR}" && pwd)
seconds=${3:-10}
connections=${4:-64}
max_rss_kb=${5:-131072}

tykhook=$build_dir/tykhook
client=$build_dir/tests/load_client
work=$(mktemp -d "${TMPDIR:-/tmp}/tykhook-load.XXXXXX")
pids=()

cleanup() {
  local pid
  {
    for pid in "${pids[@]}"; do kill -9 "$pid" || true; done
    wait || true
  } 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { echo "load_test $scenario: $*"; }

fail() {
  echo "load_test $scenario: FAILED: $*" >&2
  local log
  for log in "$work"/*.log; do
    [[ -f "$log" ]] && { echo "---- $(basename "$log") (last lines)" >&2; tail -n 15 "$log" >&2; }
  done
  exit 1
}

secret=load-test-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$secret" >"$work/secret"

# Starts `tykhook listen` with the given options (log in $work/$1.log); sets listen_pid and
# listen_url once its first line has named the port.
start_listen() {
  local log=$work/$1.log
  shift
  # Made here, not by the background job's redirection: the loop below may read it first.
  : >"$log"
  "$tykhook" listen --port 0 "$@" >"${log%.log}.stdout" 2>"$log" &
  listen_pid=$!
  pids+=("$listen_pid")
  local port=
  for _ in $(seq 300); do
    # Once the last start-up line (whether deliveries are kept) is written: the port is in the
    # first, as text or as JSON.
    if grep -q -e '^tykhook listen: \(not \)\?kept: ' -e '"deliveries_kept":' "$log"; then
      port=$(sed -n -e '1s|^tykhook listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' \
        -e '1s|^{.*"listening":"http://127\.0\.0\.1:\([0-9]*\)".*}$|\1|p' "$log")
      break
    fi
    kill -0 "$listen_pid" 2>/dev/null || fail "tykhook listen $* exited at start"
    sleep 0.1
  done
  [[ -n "$port" ]] || fail "tykhook listen $* did not say which port it listens on, and what it keeps"
  listen_url=http://127.0.0.1:$port/webhooks/tyk
}

# Stops the receiver with SIGTERM and expects exit status 0.
stop_listen() {
  kill -TERM "$listen_pid"
  local status=0
  timeout 30 tail --pid="$listen_pid" -f /dev/null || fail "tykhook listen did not stop on SIGTERM"
  wait "$listen_pid" || status=$?
  [[ $status == 0 ]] || fail "tykhook listen exited $status on SIGTERM, expected 0"
}

peak_memory() { sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$listen_pid/status"; }

# The receiver's log holds no line of a failure after its start-up lines (the --quiet log shows
# only 5xx and errors).
# The line of a restarted receiver that names or removes the capture files a kill left unfinished.
recovery_line="capture files left unfinished by an interrupted run"
expect_quiet_log() {
  local lines
  lines=$(sed '1,/^tykhook listen: \(not \)\?kept: /d' "$work/$1.log" | head -n 5)
  [[ -z "$lines" ]] || fail "$1: the receiver logged failures: $lines"
}

# load_client run with the common options; $1 names its records, the rest are passed on.
load() {
  local name=$1
  shift
  timeout $((seconds + 120)) "$client" run --url "$listen_url" --secret-file "$work/secret" \
    --records "$work/$name.records" --summary "$work/$name.summary" "$@" >/dev/null
}

# The load scenarios' receivers: the secret in a file, only failures logged.
quiet_listen() {
  local name=$1
  shift
  start_listen "$name" --secret-file "$work/secret" --quiet "$@"
}

# A free port below the kernel's ephemeral range: while Redis is down for the test, the
# receiver's connection attempts take ephemeral ports, and one of them could hold Redis's port
# when it starts again (or, before the store refused it, connect to itself).
free_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((low > 12000)) || low=32768
  for _ in $(seq 50); do
    port=$((10000 + RANDOM % (low - 10000)))
    if ! (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  fail "no free loopback port found"
}

case $scenario in
load)
  store=${LOAD_STORE:-sqlite:$work/store.db}
  quiet_listen listen --store "$store" --capture-dir "$work/captures"
  step "$connections connections for $seconds s against $listen_url (store $store, captures)"
  load run --connections "$connections" --duration "$seconds" --expect strict \
    || fail "answers not as designed (above)"
  memory=$(peak_memory)
  if ((max_rss_kb > 0 && ${memory% kB} > max_rss_kb)); then
    fail "the receiver's peak resident memory is $memory, over the bound of $max_rss_kb kB"
  fi
  stop_listen
  expect_quiet_log listen
  step "checking the capture directory"
  "$client" check --secret-file "$work/secret" --records "$work/run.records" \
    --capture-dir "$work/captures" >"$work/check.summary" || fail "captures (above)"
  step "figures: $(cat "$work/run.summary")"
  step "captures: $(cat "$work/check.summary")"
  step "receiver peak resident memory (VmHWM): $memory; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  ;;

kill)
  quiet_listen listen --store "sqlite:$work/store.db" --capture-dir "$work/captures"
  step "$connections connections for $seconds s; kill -9 of the receiver after $((seconds / 2)) s"
  load run --connections "$connections" --duration "$seconds" --expect tolerant &
  load_pid=$!
  pids+=("$load_pid")
  # Not a wait for a condition: the kill must come in the middle of the run.
  sleep $((seconds / 2))
  kill -9 "$listen_pid"
  wait "$listen_pid" 2>/dev/null || true
  status=0
  wait "$load_pid" || status=$?
  [[ $status == 0 ]] || fail "answers before the kill not as designed (above)"
  grep -q '"connection_errors":[1-9]' "$work/run.summary" \
    || fail "no connection error: the receiver was not killed in the middle of the run"
  step "run: $(cat "$work/run.summary")"

  step "restarting on the same store and capture directory"
  temporary_before=$(find "$work/captures" -name '.*.tmp' -mmin +0.1 | wc -l)
  quiet_listen restart --store "sqlite:$work/store.db" --capture-dir "$work/captures"
  # Among its start-up lines, one for the unfinished capture files when it named or removed any
  # (files written in the last 5 s are left for a later start).
  if grep -q "$recovery_line" "$work/restart.log"; then
    step "$(grep "$recovery_line" "$work/restart.log")"
  else
    [[ $temporary_before == 0 ]] || fail "$temporary_before temporary files older than 5 s, and no line about them"
  fi
  step "checking the capture directory"
  "$client" check --secret-file "$work/secret" --records "$work/run.records" \
    --capture-dir "$work/captures" --allow-temporary || fail "captures after the kill (above)"
  step "sending every acknowledged delivery again: each is a duplicate, or kept already"
  timeout 300 "$client" replay --url "$listen_url" --records "$work/run.records" \
    || fail "replay after the restart (above)"
  step "new deliveries to the restarted receiver"
  seconds=3 load after --connections 8 --duration 3 --expect strict \
    || fail "answers after the restart not as designed (above)"
  stop_listen
  expect_quiet_log restart
  "$client" check --secret-file "$work/secret" --records "$work/run.records" "$work/after.records" \
    --capture-dir "$work/captures" --allow-temporary || fail "captures after the replay (above)"
  ;;

forward)
  app_port=$(free_port)
  "$build_dir/tests/load_application" --port "$app_port" --fail-share 0.3 \
    --successes "$work/successes" 2>"$work/application.log" &
  app_pid=$!
  pids+=("$app_pid")
  for _ in $(seq 100); do
    (: >"/dev/tcp/127.0.0.1/$app_port") 2>/dev/null && break
    sleep 0.1
  done
  store=sqlite:$work/store.db
  quiet_listen listen --store "$store" --forward-to "http://127.0.0.1:$app_port/app" \
    --retry-base 10ms --retry-cap 200ms --concurrency 16
  step "$connections connections for $seconds s against $listen_url, forwarding to a flaky application"
  load run --connections "$connections" --duration "$seconds" --expect strict \
    || fail "answers not as designed (above)"
  step "waiting for the queue to drain"
  waiting() {
    echo $(($("$tykhook" queue list --store "$store" --state pending | wc -l) +
      $("$tykhook" queue list --store "$store" --state retrying | wc -l)))
  }
  drained=
  for _ in $(seq 600); do
    if [[ $(waiting) == 0 ]]; then drained=1; break; fi
    sleep 0.1
  done
  [[ -n "$drained" ]] || fail "$(waiting) entries still waiting after 60 s"
  stop_listen
  kill -TERM "$app_pid"
  wait "$app_pid" || true
  dead=$("$tykhook" queue list --store "$store" --state dead | wc -l)
  [[ $dead == 0 ]] || fail "$dead entries dead: $("$tykhook" queue list --store "$store" --state dead | head -n 3)"
  step "checking every ok delivery reached the application exactly once"
  python3 - "$work/run.records" "$work/successes" <<'CHECK' || fail "deliveries at the application (above)"
import json, sys
from collections import Counter
ok = {r["key"] for r in map(json.loads, open(sys.argv[1])) if r["verdict"] == "ok"}
got = Counter(line.strip() for line in open(sys.argv[2]) if line.strip())
missing = ok - set(got)
extra = set(got) - ok
twice = [key for key, count in got.items() if count > 1]
for what, keys in (("never reached the application", missing),
                   ("reached it but were not acknowledged ok", extra),
                   ("were answered 200 more than once", twice)):
    if keys:
        print(f"{len(keys)} deliveries {what}, e.g. {sorted(keys)[0]}", file=sys.stderr)
print(f"{len(ok)} ok deliveries, each answered 200 once by the application")
sys.exit(1 if missing or extra or twice else 0)
CHECK
  step "figures: $(cat "$work/run.summary")"
  step "application: $(tail -n 1 "$work/application.log")"
  ;;

redis)
  if ! command -v redis-server >/dev/null; then
    [[ -n "${CI:-}" ]] && fail "redis-server not found; make deps installs it"
    step "skipped: redis-server not found (make deps installs it)"
    exit 77
  fi
  redis_port=$(free_port)
  redis_password=redis-pass-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  # Every write reaches the disk before Redis answers it: a claim survives the kill below.
  start_redis() {
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes \
      --appendfsync always --dir "$work" --requirepass "$redis_password" \
      >>"$work/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    # Ready when it answers PONG: while it replays its append-only file after a restart it
    # accepts connections but answers LOADING, which the receiver rightly takes for an outage.
    for _ in $(seq 300); do
      [[ $(REDISCLI_AUTH=$redis_password redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] \
        && return
      sleep 0.1
    done
    fail "redis-server did not answer PING on port $redis_port within 30 s"
  }
  start_redis
  export TYKHOOK_REDIS_PASSWORD=$redis_password
  quiet_listen listen --store "redis://127.0.0.1:$redis_port" --capture-dir "$work/captures"
  unset TYKHOOK_REDIS_PASSWORD
  step "Redis up: 16 connections for 3 s"
  seconds=3 load up --connections 16 --duration 3 --expect strict || fail "with Redis up (above)"

  step "Redis killed during a run of $seconds s, started again after $((seconds / 3)) s down"
  load during --connections 16 --duration "$seconds" --pause 5 --expect tolerant &
  load_pid=$!
  pids+=("$load_pid")
  # Not a wait for a condition: Redis serves the first third of the run, then is killed.
  sleep $((seconds / 3))
  kill -9 "$redis_pid"
  wait "$redis_pid" 2>/dev/null || true
  # Down means refusing connections: the outage phase below must not start while anything
  # still answers on the port (a CI run once saw answers that needed a live Redis there).
  for _ in $(seq 100); do
    (: >"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null || break
    sleep 0.1
  done
  if (: >"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
    fail "port $redis_port still accepts connections 10 s after kill -9 of redis-server ($redis_pid): $(ss -ltnp "sport = :$redis_port" 2>&1 | tail -n +2)"
  fi
  step "Redis down: every delivery that needs a claim must be 503"
  seconds=3 load down --connections 4 --duration 2 --expect outage \
    || fail "with Redis down: a delivery acknowledged without a recorded claim (above)"
  # Not a wait for a condition: the outage lasts a third of the run.
  sleep $((seconds / 3))
  start_redis
  status=0
  wait "$load_pid" || status=$?
  [[ $status == 0 ]] || fail "answers while Redis restarted (above)"
  grep -q '"503":[1-9]' "$work/during.summary" || fail "no 503 while Redis was down"
  step "during: $(cat "$work/during.summary")"

  step "Redis back: the same receiver recovers by itself"
  seconds=3 load back --connections 16 --duration 3 --expect strict \
    || fail "the receiver did not recover after Redis came back (above)"
  stop_listen
  "$client" check --secret-file "$work/secret" --records "$work"/{up,during,down,back}.records \
    --capture-dir "$work/captures" || fail "captures (above)"
  if grep -rlF -- "$redis_password" "$work"/listen.{log,stdout} "$work"/*.summary \
    "$work/captures"; then
    fail "the Redis password appears in the files above"
  fi
  ;;

secrets)
  # Three secrets, one per way of passing it, and the required header's value.
  canary() { echo "$1-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
  file_secret=$secret
  option_secret=$(canary option-secret)
  env_secret=$(canary env-secret)
  token=$(canary portal-token)
  out=$work/out
  mkdir "$out"
  body=$work/body.json
  "$tykhook" example UserRegistered --fresh-timestamp >"$body"
  # run NAME COMMAND...: stdout and stderr kept apart, in $out.
  run() {
    local name=$1
    shift
    timeout 60 "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" || true
  }
  # GET /metrics, response head included, over bash's own TCP client.
  metrics() {
    local authority=${listen_url#http://}
    authority=${authority%%/*}
    exec 3<>"/dev/tcp/${authority%:*}/${authority##*:}"
    printf 'GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$authority" >&3
    timeout 10 cat <&3 >"$out/$1.metrics" || true
    exec 3<&-
  }

  step "listen with a secret file and a rotation --secret, JSON log, required header"
  start_listen json-listen --secret-file "$work/secret" --secret "$option_secret" --log-format json \
    --require-header "X-Portal-Token: $token" --store "sqlite:$work/store.db" \
    --capture-dir "$work/captures"
  run send-all "$tykhook" send --all --to "$listen_url" --secret-file "$work/secret" \
    --header "X-Portal-Token: $token"
  grep -q ' 200 ' "$out/send-all.stdout" || fail "send --all: no delivery was accepted"
  run send-option "$tykhook" send --event PasswordReset --to "$listen_url" \
    --secret "$option_secret" --header "X-Portal-Token: $token"
  run send-no-token "$tykhook" send --event UserRegistered --to "$listen_url" \
    --secret-file "$work/secret"
  run send-bad-token "$tykhook" send --event UserRegistered --to "$listen_url" \
    --secret-file "$work/secret" --header "X-Portal-Token: $token-"
  # Signed with another secret: the receiver must not tell the signature that it expected.
  run send-wrong "$tykhook" send --body "$body" --to "$listen_url" --secret not-the-secret \
    --header "X-Portal-Token: $token"
  grep -q 'signature_mismatch' "$out/send-wrong.stdout" || fail "send --secret not-the-secret: not refused"
  # The signatures of that body under the configured secrets: never to be printed.
  expected=("$("$tykhook" sign --hex --secret-file "$work/secret" "$body")"
    "$("$tykhook" sign --hex --secret "$option_secret" "$body")")
  metrics json-listen
  stop_listen

  step "listen with the secret in PORTAL_WEBHOOKS_SECRET, text log"
  PORTAL_WEBHOOKS_SECRET=$env_secret start_listen text-listen --store memory: \
    --capture-dir "$work/captures-env"
  # The started process has the variable; this shell does not.
  PORTAL_WEBHOOKS_SECRET=$env_secret run send-env "$tykhook" send --all --to "$listen_url"
  grep -q ' 200 ' "$out/send-env.stdout" || fail "send with PORTAL_WEBHOOKS_SECRET: no delivery was accepted"
  metrics text-listen
  stop_listen

  step "verify, sign and the usage errors"
  captures=("$work"/captures/*.json "$work"/captures-env/*.json)
  ((${#captures[@]} >= 20)) || fail "expected at least 20 capture files, found ${#captures[@]}"
  run verify-text "$tykhook" verify --secret-file "$work/secret" --secret "$option_secret" \
    "${captures[@]}"
  run verify-json "$tykhook" verify --format json --secret-file "$work/secret" "${captures[@]}"
  PORTAL_WEBHOOKS_SECRET=$env_secret run verify-env "$tykhook" verify --format json "${captures[@]}"
  run verify-wrong "$tykhook" verify --secret-file "$work/secret" --secret "$option_secret" \
    --signature "$(printf '0%.0s' $(seq 64))" "$body"
  grep -q 'signature_mismatch' "$out/verify-wrong.stdout" || fail "verify with another secret: not refused"
  run sign "$tykhook" sign --secret-file "$work/secret" "$body"
  grep -q "${expected[0]}" "$out/sign.stdout" || fail "sign did not print the signature"
  run sign-request "$tykhook" sign --secret "$option_secret" --request http://127.0.0.1/ "$body"
  run verify-empty-env env PORTAL_WEBHOOKS_SECRET= "$tykhook" verify "$body"
  printf '%s\n\n' "$file_secret" >"$work/bad-secret"
  run listen-bad-store "$tykhook" listen --secret-file "$work/secret" --secret "$option_secret" \
    --store "redis://127.0.0.1:1"
  run listen-bad-file "$tykhook" listen --secret-file "$work/no-such-file" --secret "$option_secret"
  PORTAL_WEBHOOKS_SECRET=$env_secret run send-refused "$tykhook" send --event UserRegistered \
    --to http://127.0.0.1:1/

  step "searching every output, log, metrics and capture file for the secrets"
  files=("$out"/* "$work"/*.log "$work"/*.stdout "$work"/captures/* "$work"/captures-env/*)
  found=0
  for value in "$file_secret" "$option_secret" "$env_secret" "$token"; do
    hex=$(printf '%s' "$value" | od -An -tx1 | tr -d ' \n')
    upper_hex=$(printf '%s' "$hex" | tr a-f A-F)
    # Base64 of the value at each of the three alignments it can have inside a longer text,
    # less the characters that depend on its neighbours.
    forms=("$value" "$hex" "$upper_hex")
    for pad in "" "x" "xx"; do
      encoded=$(printf '%s%s' "$pad" "$value" | base64 -w0 | tr -d '=')
      offset=$((${#pad} == 0 ? 0 : ${#pad} + 1))
      forms+=("${encoded:offset:$((${#encoded} - offset - 4))}")
    done
    for form in "${forms[@]}"; do
      if matches=$(grep -lF -- "$form" "${files[@]}"); then
        echo "load_test secrets: \"$form\" (a form of a secret) found in: $matches" >&2
        found=1
      fi
    done
  done
  # Printing them is the job of `sign`, and of nothing else.
  unsigned_files=()
  for file in "${files[@]}"; do [[ $file == "$out"/sign* ]] || unsigned_files+=("$file"); done
  for signature in "${expected[@]}"; do
    if matches=$(grep -liF -- "$signature" "${unsigned_files[@]}"); then
      echo "load_test secrets: a signature that tykhook computed was printed in: $matches" >&2
      found=1
    fi
  done
  ((found == 0)) || fail "secrets appear in the files above"
  # The search looks where the secrets would be: the outputs are there, and not empty.
  for name in send-all.stdout verify-json.stdout verify-env.stdout json-listen.metrics \
    verify-empty-env.stderr listen-bad-file.stderr; do
    [[ -s "$out/$name" ]] || fail "$name is empty; the search would prove nothing"
  done
  grep -q '"verdict"' "$work/json-listen.log" || fail "the JSON log has no request line"
  grep -q 'tykhook_deliveries_total' "$out/json-listen.metrics" || fail "/metrics has no counters"
  step "searched ${#files[@]} files"
  ;;

*)
  fail "unknown scenario \"$scenario\"; use load, kill, redis or secrets"
  ;;
esac
step "passed"
