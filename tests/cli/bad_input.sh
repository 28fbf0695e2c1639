#!/usr/bin/env bash
# The bad-input corpus (tests/data/bad/MANIFEST): each file goes through the
# real `salvo validate` and `salvo send` (against a real `salvo emulate`), and
# must give its clear error and exit code, or its rows marked invalid with the
# rest sent — never a crash, a hang (every command has a timeout) or a row
# silently dropped (result lines are counted, row by row).
#   bad_input.sh SALVO_BINARY [CASE_FILTER]
set -u
salvo=$1
filter=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/../data/bad
source "$here/lib.sh"
export SALVO_TEST_KEY=bad-input-key
limit=120  # seconds a command may take: more is a hang

# run OUT -- ARGS...: salvo ARGS with a timeout; output (both streams) in OUT;
# sets $rc. A crash or hang fails the whole test at once.
run() {
  local out=$1
  shift 2
  timeout -k 5 "$limit" "$salvo" "$@" >"$out" 2>&1
  rc=$?
  ((rc == 124 || rc == 137)) && fail "salvo $* hung (killed after ${limit}s)"
  ((rc > 3)) && { tail -20 "$out" >&2; fail "salvo $* crashed (exit $rc)"; }
  return 0
}

# generate NAME DIR: the files too big to commit.
generate() {
  local name=$1 dir=$2
  python3 - "$name" "$dir/$name" <<'PY'
import sys
name, path = sys.argv[1], sys.argv[2]
H = 'email,name,first_name,code\n'
row = lambda i: 'u%d@x.example,User %d,U%d,%d\n' % (i, i, i, i)
with open(path, 'w') as f:
    if name == 'big_cell.csv':  # a 10 MB cell in row 2
        f.write(H + row(1) + 'u2@x.example,' + 'x' * (10 * 1024 * 1024) + ',U2,2\n' + row(3))
    elif name == 'wide_header.csv':  # 100 000 columns
        f.write(','.join(['email', 'name', 'first_name', 'code'] +
                         ['c%d' % i for i in range(4, 100000)]) + '\n')
        f.write(','.join(['u1@x.example', 'A', 'A', '1'] + ['v'] * 99996) + '\n')
    elif name == 'wide_row.csv':  # one row of 100 000 fields
        f.write(H + row(1) + ','.join(['u2@x.example'] + ['v'] * 99999) + '\n' + row(3))
    elif name in ('deep_value.json', 'deep_value.ndjson'):  # nesting 100 000 deep
        d = 100000
        a = '{"email":"u1@x.example","name":"A","first_name":"A","code":"1"}'
        c = '{"email":"u3@x.example","name":"C","first_name":"C","code":"3"}'
        if name.endswith('.ndjson'):
            b = '{"email":"u2@x.example","name":' + '{"a":' * d + '1' + '}' * d + ',"first_name":"B","code":"2"}'
            f.write(a + '\n' + b + '\n' + c + '\n')
        else:
            b = '{"email":"u2@x.example","name":' + '[' * d + ']' * d + ',"first_name":"B","code":"2"}'
            f.write('[' + a + ',' + b + ',' + c + ']')
    elif name == 'ragged_20000.csv':  # every second row short a field
        f.write(H)
        for i in range(1, 20001):
            f.write(row(i) if i % 2 else 'u%d@x.example,User %d,U%d\n' % (i, i, i))
    elif name == 'deep_job.json':
        d = 100000
        f.write('{"endpoint": "http://127.0.0.1:1/api/v1/email", "recipients": "recipients.csv", '
                '"global": ' + '{"a":' * d + '1' + '}' * d + '}')
    else:
        sys.exit('unknown generated file ' + name)
PY
}

# write_job DIR RECIPIENTS [TEXT_FILE]: DIR/job.json, its endpoint unreachable
# (send gets the emulator's with --endpoint).
write_job() {
  local dir=$1 recipients=$2 text='"Code %%code%%"'
  [[ $# -ge 3 ]] && text="{\"file\": \"$3\"}"
  job_json "$dir/job.json" "$recipients" "$text" '"<p>%%name%%</p>"'
}

good_recipients() {
  printf 'email,name,first_name,code\ng1@x.example,G1,G,1\ng2@x.example,G2,G,2\ng3@x.example,G3,G,3\n' >"$1"
}

# How many emails the emulator has recorded so far.
recorded() { if [[ -f $work/emails.ndjson ]]; then wc -l <"$work/emails.ndjson"; else echo 0; fi; }

has() { grep -qF -- "$1" "$2"; }

start_emulator
cases=0
while read -r kind file want rows invalid message; do
  [[ -z $kind || $kind == \#* ]] && continue
  [[ -n $filter && $file != *$filter* ]] && continue
  cases=$((cases + 1))
  name=${file#gen:}
  name=${name##*/}
  dir=$work/case$cases
  mkdir -p "$dir"
  if [[ $file == gen:* ]]; then
    generate "$name" "$dir" || fail "$file: cannot generate"
  else
    cp "$corpus/$file" "$dir/$name" || fail "$file: not in the corpus"
  fi
  what="$kind $file"
  case $kind in
  rows | source) write_job "$dir" "$name" ;;
  template)
    good_recipients "$dir/recipients.csv"
    write_job "$dir" recipients.csv "$name"
    ;;
  job) good_recipients "$dir/recipients.csv" ;;
  *) fail "MANIFEST: unknown kind $kind" ;;
  esac
  job=$dir/job.json
  [[ $kind == job ]] && job=$dir/$name

  run "$dir/validate.out" -- validate "$job"
  [[ $rc == "$want" ]] || { cat "$dir/validate.out" >&2; fail "$what: validate exit $rc, expected $want"; }
  [[ $message == - ]] || has "$message" "$dir/validate.out" ||
    { cat "$dir/validate.out" >&2; fail "$what: validate does not say: $message"; }

  before=$(recorded)
  run "$dir/send.out" -- send "$job" --endpoint "$url" --progress=none --max-in-flight 4 \
    --results "$dir/results.ndjson" --journal "$dir/campaign.journal"
  sent=$(($(recorded) - before))
  if [[ $kind == rows || ($kind == template && $want == 0) ]]; then
    [[ $kind == template ]] && { rows=3; invalid=0; }
    [[ $rc == 0 ]] || { cat "$dir/send.out" >&2; fail "$what: send exit $rc, expected 0"; }
    lines=0
    [[ -f $dir/results.ndjson ]] && lines=$(wc -l <"$dir/results.ndjson")
    [[ $lines == "$rows" ]] || fail "$what: $lines result lines, expected $rows (a row dropped or doubled)"
    if ((rows > 0)); then
      numbers=$(sed -n 's/^{"row":\([0-9]*\),.*/\1/p' "$dir/results.ndjson" | sort -n | uniq | tr '\n' ' ')
      [[ $numbers == "$(seq -s ' ' 1 "$rows") " ]] || fail "$what: result rows are not 1..$rows once each"
    fi
    bad=$(lines_with '"status":"invalid"' "$dir/results.ndjson")
    [[ $bad == "$invalid" ]] || fail "$what: $bad rows invalid, expected $invalid"
    good=$(lines_with '"status":"accepted"' "$dir/results.ndjson")
    [[ $good == $((rows - invalid)) ]] || fail "$what: $good accepted, expected $((rows - invalid))"
    [[ $sent == $((rows - invalid)) ]] || fail "$what: the emulator recorded $sent, expected $((rows - invalid))"
    # Every invalid line says which row and line, and why; validate lists them by row.
    unexplained=$(grep '"status":"invalid"' "$dir/results.ndjson" |
      grep -cv '^{"row":[0-9]*,"line":[0-9]*,.*"error":"[^"]' || true)
    [[ $unexplained == 0 ]] || fail "$what: $unexplained invalid rows without row, line and error"
    ((invalid == 0)) || grep -qE '^  .*row [0-9]+.*line [0-9]+' "$dir/validate.out" ||
      fail "$what: validate does not list the invalid rows by row and line"
    [[ $kind == rows && $message != - ]] && { has "$message" "$dir/results.ndjson" ||
      fail "$what: the results file does not say: $message"; }
  else
    [[ $rc == "$want" ]] || { cat "$dir/send.out" >&2; fail "$what: send exit $rc, expected $want"; }
    [[ $message == - ]] || has "$message" "$dir/send.out" ||
      { cat "$dir/send.out" >&2; fail "$what: send does not say: $message"; }
    [[ $sent == 0 ]] || fail "$what: the emulator recorded $sent emails, expected none"
    [[ -s $dir/results.ndjson ]] && fail "$what: a job error wrote result lines"
  fi
  # A key planted in a job file is refused, never echoed.
  grep -q 'planted-secret' "$dir/validate.out" "$dir/send.out" && fail "$what: a planted key was echoed"
  echo "ok: $what"
  rm -rf "$dir"
done <"$corpus/MANIFEST"
((cases > 0)) || fail "no case matched '$filter'"
echo "ok: $cases bad-input cases"
