#!/usr/bin/env bash
# The systemd unit as `cmake --install` writes it (packaging/systemd/tykhook.service.in): where it
# lands, that `systemd-analyze verify` finds nothing to say about it (skipped, with a message, on a
# machine without systemd-analyze), and that its ExecStart, run as systemd would run it (the
# secret as a credential, the state directory, the unit's environment and options from the
# environment file), starts `tykhook listen`, which answers and keeps a delivery there.
#   systemd_unit_test.sh BUILD_DIR
set -euo pipefail

build_dir=$1

work=$(mktemp -d "${TMPDIR:-/tmp}/tykhook-systemd.XXXXXX")
listen_pid=
cleanup() {
  if [[ -n "$listen_pid" ]]; then kill "$listen_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "systemd_unit_test: $*" >&2
  for log in "$work"/*.log; do
    [[ -f "$log" ]] && { echo "---- $(basename "$log")" >&2; tail -n 40 "$log" >&2; }
  done
  exit 1
}

step() { echo "systemd_unit_test: $*"; }

prefix=$work/prefix
step "installing into a temporary prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" 2>&1 \
  || fail "cmake --install failed"
unit=$prefix/lib/systemd/system/tykhook.service
[[ -f "$unit" ]] || fail "no lib/systemd/system/tykhook.service under the prefix"
grep -q '@[A-Z_]*@' "$unit" && fail "the installed unit has a template variable left: $(grep '@[A-Z_]*@' "$unit")"

# The unit's ExecStart, its continuation lines joined.
exec_start=$(sed -e ':join' -e '/\\$/{N;s/\\\n//;b join}' "$unit" | sed -n 's/^ExecStart=//p')
[[ -n "$exec_start" ]] || fail "the unit has no ExecStart"
[[ "$exec_start" == "$prefix/bin/tykhook listen "* ]] \
  || fail "ExecStart does not run $prefix/bin/tykhook listen: $exec_start"
# shellcheck disable=SC2016 # systemd's own $MAINPID
for directive in 'DynamicUser=yes' 'StateDirectory=tykhook' 'NoNewPrivileges=yes' \
  'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
  'LoadCredential=portal-secret:/etc/tykhook/portal-secret' \
  'ExecReload=/bin/kill -HUP $MAINPID' 'EnvironmentFile=-/etc/default/tykhook'; do
  grep -qxF "$directive" "$unit" || fail "the unit lacks $directive"
done
# The documented port (README.md, "Running it as a service").
grep -q '^Environment=.*TYKHOOK_PORT=8080' "$unit" || fail "the unit's port is not 8080"

if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze verify"
  # Its man page check (Documentation=man:tykhook(1)) reads the prefix's man page.
  status=0
  MANPATH=$prefix/share/man systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || status=$?
  [[ $status -eq 0 && ! -s "$work/verify.log" ]] \
    || fail "systemd-analyze verify objects to the unit (status $status)"
else
  step "systemd-analyze not found: skipping its check of the unit (the package systemd has it)"
fi

step "running ExecStart as systemd would"
state=$work/state
credentials=$work/credentials
mkdir -m 0700 "$state" "$state/tykhook" "$credentials"
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$secret" >"$credentials/portal-secret"
# As systemd expands it: %S is the state directories' root, ${NAME} a value in its word, and
# $TYKHOOK_OPTIONS its words; the environment file may set the port (0: a free one) and options.
# shellcheck disable=SC2016 # systemd's variables, replaced here as text
{
  line=${exec_start//%S/$state}
  line=${line//'${CREDENTIALS_DIRECTORY}'/$credentials}
  line=${line//'${TYKHOOK_HOST}'/127.0.0.1}
  line=${line//'${TYKHOOK_PORT}'/0}
  line=${line//'$TYKHOOK_OPTIONS'/--max-future 2s --log-format json}
}
[[ "$line" == *'$'* || "$line" == *%* ]] && fail "ExecStart has an unexpanded part: $line"
read -ra words <<<"$line"
(cd "$state/tykhook" && exec env -i PATH="$PATH" "${words[@]}") >"$work/listen.log" 2>&1 &
listen_pid=$!
url=
for _ in $(seq 200); do
  url=$(head -n 1 "$work/listen.log" | sed -n 's/.*"listening": *"\([^"]*\)".*/\1/p')
  [[ -n "$url" ]] && break
  kill -0 "$listen_pid" 2>/dev/null || fail "tykhook listen exited at start: ${words[*]}"
  sleep 0.1
done
[[ -n "$url" ]] || fail "tykhook listen did not say where it listens"

"$prefix/bin/tykhook" send --to "$url/webhooks" --event UserRegistered \
  --secret-file "$credentials/portal-secret" >"$work/send.log" 2>&1 \
  || fail "a delivery signed with the credential's secret was not answered 2xx"
grep -q 'X-Tykhook-Verdict: ok' "$work/send.log" || fail "the delivery's verdict was not ok"
[[ -f "$state/tykhook/tykhook.db" ]] || fail "no store in the state directory"
captures=("$state"/tykhook/captures/*.json)
[[ -f "${captures[0]}" ]] || fail "no capture file in the state directory's captures"

kill -TERM "$listen_pid"
status=0
wait "$listen_pid" || status=$?
listen_pid=
[[ $status -eq 0 ]] || fail "tykhook listen exited with status $status on SIGTERM"
step "ok"
