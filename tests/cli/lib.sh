# Shell helpers for the tests that run the real salvo binary against a real
# `salvo emulate` on 127.0.0.1 (port chosen by the kernel), in a temp dir that
# is removed on exit. Source it after setting $salvo:
#   salvo=$1; source "$(dirname "$0")/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/salvo-cli-XXXXXX")
emu_pid=
cleanup() {
  if [[ -n $emu_pid ]]; then kill -INT "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_emulator [salvo emulate options...]: sets $url; records to
# $work/emails.ndjson.
start_emulator() {
  # A restart must not read the last emulator's URL: the shell truncates
  # emu.out in the child, which may not have run yet when wait_url looks
  # (a CI run once sent to the stopped emulator's port, by then another
  # test's server that never answered).
  rm -f "$work/emu.out" "$work/emu.err"
  "$salvo" emulate --listen 127.0.0.1:0 --record "$work/emails.ndjson" "$@" \
    >"$work/emu.out" 2>"$work/emu.err" &
  emu_pid=$!
  url=$(wait_url "$work/emu.out" "$work/emu.err" "the emulator") || exit 1
}

# wait_url OUT ERR WHAT: prints the first line of OUT once it is a URL
# (polled for at most 5 s); fails, showing ERR, otherwise.
wait_url() {
  local line
  for _ in $(seq 250); do
    line=$(head -n1 "$1" 2>/dev/null)
    [[ $line == http* ]] && { echo "$line"; return 0; }
    sleep 0.02
  done
  cat "$2" >&2
  fail "$3 did not print its URL"
}

# stop_emulator: SIGINT, wait (the record file is complete afterwards).
stop_emulator() {
  [[ -n $emu_pid ]] || return 0
  kill -INT "$emu_pid" 2>/dev/null
  wait "$emu_pid" 2>/dev/null
  emu_pid=
}

lines_with() { grep -c -- "$1" "$2" || true; }

# job_json FILE RECIPIENTS TEXT HTML [MESSAGE_EXTRA]: the test campaign's job
# file. Its endpoint is unreachable (runs pass --endpoint), its key comes from
# $SALVO_TEST_KEY. TEXT and HTML are JSON values (a string or {"file": …});
# MESSAGE_EXTRA adds members to "message" (', "headers": {…}').
job_json() {
  cat >"$1" <<JSON
{ "endpoint": "http://127.0.0.1:1/api/v1/email",
  "server_id": 4242,
  "api_key_env": "SALVO_TEST_KEY",
  "recipients": { "path": "$2" },
  "message": { "from": {"email": "news@example.com", "name": "News"},
               "subject": "Hello %%first_name|friend%%",
               "text": $3, "html": $4${5:-} },
  "retry": { "base_delay_ms": 5, "max_delay_ms": 20 },
  "timeouts": { "request_ms": 10000 } }
JSON
}
