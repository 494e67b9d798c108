#!/usr/bin/env bash
# What an integrator does with tykhook, end to end: install the build into a fresh prefix, build
# samples/integrator against it with find_package (its verification-only program with
# tykhook::tykhook, its service with tykhook::receiver), run the service and send it real
# deliveries with the installed `tykhook send`, run the verification-only program, and compile
# and link a program with the flags of `pkg-config tykhook` and one with `pkg-config
# tykhook-receiver`. Neither tykhook::tykhook nor tykhook.pc may bring in cpp-httplib.
#   integrator_test.sh BUILD_DIR SOURCE_DIR CXX_COMPILER [EXTRA_FLAGS]
# EXTRA_FLAGS go to every compile and link (the sanitizers of a sanitized build).
set -euo pipefail

build_dir=$1
source_dir=$2
cxx=$3
extra_flags=${4:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/tykhook-integrator.XXXXXX")
service_pid=
cleanup() {
  if [[ -n "$service_pid" ]]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "integrator_test: $*" >&2
  for log in "$work"/*.log; do
    [[ -f "$log" ]] && { echo "---- $(basename "$log")" >&2; tail -n 40 "$log" >&2; }
  done
  exit 1
}

step() { echo "integrator_test: $*"; }

# Runs the command until it succeeds, for up to 10 s: a receiver's handlers run from its queue,
# after the answer.
eventually() {
  for _ in $(seq 200); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

prefix=$work/prefix
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PORTAL_WEBHOOKS_SECRET=$secret

step "installing into a temporary prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" 2>&1 \
  || fail "cmake --install failed"
tykhook=$prefix/bin/tykhook
[[ -x "$tykhook" ]] || fail "no bin/tykhook under the prefix"
[[ -x "$prefix/libexec/tykhook/tykhook-network" ]] \
  || fail "no libexec/tykhook/tykhook-network under the prefix (tykhook listen and send)"
"$tykhook" --version | grep -q '^tykhook 0\.1\.0$' || fail "tykhook --version is not tykhook 0.1.0"
[[ -f "$prefix/share/man/man1/tykhook.1" ]] || fail "no man page under share/man/man1"
# The completion scripts where bash-completion and zsh look, as the program writes them.
for shell_file in bash:share/bash-completion/completions/tykhook \
  zsh:share/zsh/vendor-completions/_tykhook; do
  [[ -f "$prefix/${shell_file#*:}" ]] || fail "no ${shell_file%%:*} completion at ${shell_file#*:}"
  "$tykhook" completion "${shell_file%%:*}" | cmp -s - "$prefix/${shell_file#*:}" \
    || fail "${shell_file#*:} is not what tykhook completion ${shell_file%%:*} prints"
done
[[ -f "$prefix/share/tykhook/schemas/UserRegistered.schema.json" ]] \
  || fail "no schemas under share/tykhook/schemas"
[[ -f "$prefix/include/tykhook/receiver.h" ]] || fail "no headers under include/tykhook"
# The installed headers include no dependency but nlohmann/json (a static library hides the rest).
include='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]'
if grep -nE "$include(openssl|sqlite3|hiredis|httplib|valijson|simdjson)" \
  "$prefix"/include/tykhook/*.h; then
  fail "a public header includes a private dependency"
fi

step "building samples/integrator with find_package(tykhook)"
cmake -S "$source_dir/samples/integrator" -B "$work/sample" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$extra_flags" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON >"$work/sample-configure.log" 2>&1 \
  || fail "configuring samples/integrator failed"
grep -q "^tykhook_DIR:PATH=$prefix/" "$work/sample/CMakeCache.txt" \
  || fail "samples/integrator found a tykhook outside the temporary prefix"
cmake --build "$work/sample" -j 2 >"$work/sample-build.log" 2>&1 \
  || fail "building samples/integrator failed"
# The verifier alone links no HTTP library; the receiver does.
needs_httplib() { readelf -d "$1" | grep -q 'NEEDED.*libcpp-httplib'; }
readelf -d "$work/sample/verify_only" >/dev/null || fail "readelf cannot read verify_only"
if needs_httplib "$work/sample/verify_only"; then
  fail "verify_only, linked with tykhook::tykhook, needs libcpp-httplib"
fi
needs_httplib "$work/sample/integrator_service" \
  || fail "integrator_service, linked with tykhook::receiver, does not need libcpp-httplib"

step "running the service and sending it deliveries"
approved=$work/approved.txt
"$work/sample/integrator_service" 0 "$approved" >"$work/service.log" 2>&1 &
service_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$work/service.log")
  [[ -n "$port" ]] && break
  kill -0 "$service_pid" 2>/dev/null || fail "the service exited at start"
  sleep 0.1
done
[[ -n "$port" ]] || fail "the service did not say which port it listens on"
url=http://127.0.0.1:$port/webhooks

"$tykhook" send --to "$url" --event UserRegistered >"$work/send.log" 2>&1 \
  || fail "tykhook send UserRegistered was not answered 2xx"
eventually grep -q '^new user: developer@user.com$' "$work/service.log" \
  || fail "the UserRegistered handler did not print the new user's e-mail"

"$tykhook" send --to "$url" --event AccessRequestApproved >>"$work/send.log" 2>&1 \
  || fail "tykhook send AccessRequestApproved was not answered 2xx"
eventually grep -qs '^access request 1 approved: app 3, plan 2$' "$approved" \
  || fail "the AccessRequestApproved handler did not append to its file"

# A delivery signed with another secret is refused and reaches no handler.
if "$tykhook" send --to "$url" --event AccessRequestApproved --secret not-the-secret \
  >>"$work/send.log" 2>&1; then
  fail "a delivery signed with another secret was answered 2xx"
fi
[[ $(wc -l <"$approved") -eq 1 ]] \
  || fail "a refused delivery reached the AccessRequestApproved handler"

kill -TERM "$service_pid"
status=0
wait "$service_pid" || status=$?
service_pid=
[[ $status -eq 0 ]] || fail "the service exited with status $status on SIGTERM"

step "verifying a request with the verification API alone"
"$tykhook" example --fresh-timestamp UserRegistered >"$work/body.json"
"$tykhook" sign --request http://127.0.0.1:8080/webhooks "$work/body.json" >"$work/request.http"
"$work/sample/verify_only" "$work/request.http" >"$work/verify_only.log" 2>&1 \
  || fail "verify_only did not find a freshly signed request ok"
grep -q '^ok (UserRegistered)$' "$work/verify_only.log" \
  || fail "verify_only did not print ok (UserRegistered)"
sed 's/developer@user.com/developer@user.org/' "$work/request.http" >"$work/tampered.http"
status=0
"$work/sample/verify_only" <"$work/tampered.http" >"$work/verify_only.log" 2>&1 || status=$?
[[ $status -eq 1 ]] || fail "verify_only exited with $status on a tampered request; expected 1"
grep -q '^signature_mismatch' "$work/verify_only.log" \
  || fail "a tampered request was not a signature_mismatch"

step "compiling and linking with pkg-config tykhook and tykhook-receiver"
pc=$(find "$prefix" -name tykhook.pc -print -quit)
[[ -n "$pc" ]] || fail "no tykhook.pc under the prefix"
[[ -f "$(dirname "$pc")/tykhook-receiver.pc" ]] || fail "no tykhook-receiver.pc next to tykhook.pc"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
for module in tykhook tykhook-receiver; do
  [[ $(pkg-config --modversion $module) == 0.1.0 ]] \
    || fail "pkg-config --modversion $module is not 0.1.0"
done
if pkg-config --libs --static tykhook | grep -q httplib; then
  fail "pkg-config --libs --static tykhook names cpp-httplib"
fi
# shellcheck disable=SC2207 # the flags are words by design
flags=($(pkg-config --cflags --libs tykhook)) || fail "pkg-config --cflags --libs tykhook failed"
cat >"$work/tiny.cpp" <<'CPP'
#include <tykhook/signature.h>
#include <tykhook/events.h>
#include <iostream>
int main() {
  std::cout << tykhook::to_string(tykhook::Event::UserRegistered) << ' '
            << tykhook::sign("secret", "body") << '\n';
}
CPP
# shellcheck disable=SC2086 # extra_flags is a list of flags
"$cxx" -std=c++20 $extra_flags "$work/tiny.cpp" "${flags[@]}" -o "$work/tiny" \
  >"$work/tiny.log" 2>&1 \
  || fail "a program does not compile and link with: ${flags[*]}"
libdir=$(pkg-config --variable=libdir tykhook)
want="UserRegistered $(printf body | "$tykhook" sign --secret secret --hex)"
[[ $(LD_LIBRARY_PATH=$libdir "$work/tiny") == "$want" ]] \
  || fail "the program built with pkg-config tykhook printed the wrong result"
if needs_httplib "$work/tiny"; then
  fail "the program built with pkg-config tykhook needs libcpp-httplib"
fi

# shellcheck disable=SC2207 # the flags are words by design
flags=($(pkg-config --cflags --libs tykhook-receiver)) \
  || fail "pkg-config --cflags --libs tykhook-receiver failed"
cat >"$work/tiny_receiver.cpp" <<'CPP'
#include <tykhook/receiver.h>
#include <iostream>
int main() {
  tykhook::ReceiverOptions options;
  options.verifier.secrets.emplace_back("secret");
  tykhook::Receiver receiver(std::move(options));
  std::cout << (receiver.bind("127.0.0.1", 0) > 0 ? "bound" : "not bound") << '\n';
}
CPP
# shellcheck disable=SC2086 # extra_flags is a list of flags
"$cxx" -std=c++20 $extra_flags "$work/tiny_receiver.cpp" "${flags[@]}" -o "$work/tiny_receiver" \
  >"$work/tiny_receiver.log" 2>&1 \
  || fail "a receiver does not compile and link with: ${flags[*]}"
[[ $(LD_LIBRARY_PATH=$libdir "$work/tiny_receiver") == bound ]] \
  || fail "the receiver built with pkg-config tykhook-receiver did not bind"

step "ok"
