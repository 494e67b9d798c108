#!/usr/bin/env bash
# `tykhook completion bash|zsh`: the scripts it prints complete commands, options, choices, event
# names, files and directories as each shell loads them, with nounset on, without running any
# program; a missing or unknown shell is a usage error that names the two.
#   completion_test.sh TYKHOOK
# bash: the script is sourced in a non-interactive bash, which is given COMP_WORDS, COMP_CWORD
# and COMP_LINE as bash gives them, and calls the function that `complete -p tykhook` names.
# zsh: `zsh -n`, then an interactive zsh in a pseudo-terminal of its own (zpty; no terminal
# needed) loads the script from $fpath with compinit, is sent a line and a TAB, and writes the
# line that completion made. Without zsh the zsh part is skipped, unless under CI.
set -euo pipefail

tykhook=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/tykhook-completion.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "completion_test: $*" >&2
  failures=$((failures + 1))
}

# ---- the command ------------------------------------------------------------------------------
"$tykhook" completion bash >"$work/tykhook.bash" || fail "tykhook completion bash failed"
mkdir "$work/zsh"
"$tykhook" completion zsh >"$work/zsh/_tykhook" || fail "tykhook completion zsh failed"
# usage_error WORDS... : exit 2, nothing on standard output, a message that names both shells.
usage_error() {
  local status=0
  "$tykhook" "$@" >"$work/out" 2>"$work/err" || status=$?
  [[ $status -eq 2 ]] || fail "tykhook $*: exit $status; expected 2"
  [[ ! -s $work/out ]] || fail "tykhook $*: wrote to standard output"
  grep -q '^tykhook completion: .*bash.*zsh' "$work/err" \
    || fail "tykhook $*: the message does not name bash and zsh: $(cat "$work/err")"
}
usage_error completion
usage_error completion fish

# ---- bash -------------------------------------------------------------------------------------
# bash_offers WORD... : what bash offers for the last WORD (the cursor at its end), one a line,
# sorted. The words are COMP_WORDS as bash splits them (`--format=j` is --format, =, j). PATH
# holds no program: completing a word must run none.
mkdir "$work/no-programs"
bash=$(command -v bash)
bash_offers() {
  # shellcheck disable=SC2016 # the script's words are expanded by the bash that runs it
  env -i PATH="$work/no-programs" HOME="$work" "$bash" --norc --noprofile -c '
    set -euo pipefail
    source "$1"
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    function=$(complete -p tykhook)
    [[ $function == "complete -F "*" tykhook" ]] || { echo "not registered: $function" >&2; exit 1; }
    function=${function#complete -F }
    function=${function% tykhook}
    "$function" tykhook "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    for word in ${COMPREPLY[@]+"${COMPREPLY[@]}"}; do echo "$word"; done
  ' bash "$work/tykhook.bash" "$@" | LC_ALL=C sort
}
# expect_bash WANT WORD... : bash offers exactly WANT (words separated by spaces) for WORD...
expect_bash() {
  local want=$1 got
  shift
  got=$(bash_offers "$@" 2>"$work/bash.err" | tr '\n' ' ' | sed 's/ $//') \
    || fail "bash, \`$*\`: the completion failed: $(cat "$work/bash.err")"
  [[ ! -s $work/bash.err ]] || fail "bash, \`$*\`: wrote to standard error: $(cat "$work/bash.err")"
  [[ $got == "$want" ]] || fail "bash, \`$*\`: offers \"$got\"; expected \"$want\""
}

mkdir -p "$work/files/captures" "$work/files/deliveries"
touch "$work/files/capture.http" "$work/files/secret.txt"
expect_bash "verify" tykhook ver
expect_bash "completion example help listen probe queue replay schema secret send sign verify work" tykhook ''
expect_bash "--format" tykhook verify --f
expect_bash "json text" tykhook verify --format ''
expect_bash "json" tykhook verify --format = j
expect_bash "json text" tykhook verify --format =
expect_bash "list show validate" tykhook schema ''
expect_bash "UserAccountActivated UserAccountDeactivated UserRegistered" tykhook schema show User
expect_bash "OrganizationRegistered OrganizationRequestApproved OrganizationRequestCreated \
OrganizationRequestRejected" tykhook send --to http://127.0.0.1:8080/ --event Organiz
expect_bash "--port" tykhook listen --p
expect_bash "text" tykhook listen --log-format t
expect_bash "bash zsh" tykhook completion ''
expect_bash "schema" tykhook help sch
expect_bash "list show validate" tykhook help schema ''
# A flag takes no value: the word after it is completed as an option.
expect_bash "--format" tykhook verify --no-schema --for
expect_bash "$work/files/captures $work/files/deliveries" tykhook listen --capture-dir "$work/files/"
expect_bash "$work/files/capture.http $work/files/captures" tykhook verify "$work/files/capt"
expect_bash "$work/files/secret.txt" tykhook verify --secret-file "$work/files/sec"
expect_bash "$work/files/capture.http $work/files/captures" tykhook replay "$work/files/capt"
expect_bash "--fresh-timestamp" tykhook replay --fr
expect_bash "json text" tykhook probe --format ''
# Nothing for a word that starts nothing.
expect_bash "" tykhook nosuch
expect_bash "" tykhook verify --nosuch
expect_bash "" tykhook verify --format xml
expect_bash "" tykhook schema show Nosuch
expect_bash "" tykhook listen --port ''

# ---- zsh --------------------------------------------------------------------------------------
if ! command -v zsh >/dev/null; then
  if [[ -n ${CI:-} ]]; then
    fail "zsh is not installed (make deps installs it); the zsh script is untested"
  else
    echo "completion_test: zsh is not installed (make deps installs it); zsh part skipped"
  fi
  [[ $failures -eq 0 ]] || exit 1
  echo "completion_test: ok (bash only)"
  exit 0
fi

zsh -n "$work/zsh/_tykhook" 2>"$work/zsh.err" || fail "zsh -n: $(cat "$work/zsh.err")"

# zsh_completes LINE... : the lines that zsh makes of each LINE and a TAB, one a line, in an
# interactive zsh with nounset on that autoloads _tykhook from $fpath. A key bound to a widget
# writes the line and empties it; the next LINE is sent once that line is written.
zsh_completes() {
  : >"$work/zsh/lines"
  # shellcheck disable=SC2016 # the script's words are expanded by the zsh that runs it
  env -i PATH="$PATH" HOME="$work" TERM=xterm zsh -f -c '
    zmodload zsh/zpty || exit 1
    lines=$1
    shift
    zpty shell zsh -f -i
    zpty -w shell "setopt nounset; fpath=(${lines:h} \$fpath); autoload -U compinit; \
compinit -u -D; write-line() { print -r -- \"[\$BUFFER]\" >>| $lines; BUFFER=; }; \
zle -N write-line; bindkey \"^T\" write-line"
    integer written=0
    for line in "$@"; do
      zpty -n -w shell "$line"$'\''\t\C-t'\''
      (( written++ ))
      for _ in {1..100}; do
        (( $(wc -l <$lines) >= written )) && break
        sleep 0.1
      done
    done
    zpty -d shell
  ' zsh "$work/zsh/lines" "$@" 2>"$work/zsh.err" || fail "zsh: zpty failed: $(cat "$work/zsh.err")"
  cat "$work/zsh/lines"
}

zsh_cases=(
  "tykhook ver|tykhook verify "
  "tykhook comp|tykhook completion "
  "tykhook verify --f|tykhook verify --format "
  "tykhook verify --format j|tykhook verify --format json "
  "tykhook verify --format=j|tykhook verify --format=json "
  "tykhook schema v|tykhook schema validate "
  "tykhook schema show UserReg|tykhook schema show UserRegistered "
  "tykhook schema show UserAcc|tykhook schema show UserAccount"
  "tykhook example OrganizationRequestAp|tykhook example OrganizationRequestApproved "
  "tykhook listen --p|tykhook listen --port "
  "tykhook help sch|tykhook help schema "
  "tykhook completion z|tykhook completion zsh "
  "tykhook verify --no-schema --for|tykhook verify --no-schema --format "
  "tykhook listen --capture-dir $work/files/d|tykhook listen --capture-dir $work/files/deliveries/"
  "tykhook verify --secret-file $work/files/sec|tykhook verify --secret-file $work/files/secret.txt "
  "tykhook nosuch|tykhook nosuch"
  "tykhook verify --nosuch|tykhook verify --nosuch"
  "tykhook schema show Nosuch|tykhook schema show Nosuch"
)
typed=()
for case in "${zsh_cases[@]}"; do typed+=("${case%%|*}"); done
mapfile -t made < <(zsh_completes "${typed[@]}")
for index in "${!zsh_cases[@]}"; do
  want="[${zsh_cases[index]#*|}]"
  got=${made[index]-"(no line)"}
  [[ $got == "$want" ]] || fail "zsh, \`${typed[index]}\` TAB: made \"$got\"; expected \"$want\""
done

[[ $failures -eq 0 ]] || exit 1
echo "completion_test: ok"
