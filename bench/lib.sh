# Helpers of the bench scripts, sourced by them (not run): one home for each.
# shellcheck shell=bash

# A free TCP port on 127.0.0.1 (the kernel's choice).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT PID: waits until 127.0.0.1:PORT accepts a connection (up to 10 s); fails when
# PID has exited or the time is up.
wait_port() {
  for _ in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# listen_port LOG PID: prints the port that `tykhook listen --port 0` (PID) names on the first
# line of its log LOG, once it is there; fails, with the log on standard error, when PID exits
# first.
listen_port() {
  local port=""
  until port=$(sed -n '1s|^tykhook listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$1") &&
    [[ -n $port ]]; do
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.05
  done
  echo "$port"
}
