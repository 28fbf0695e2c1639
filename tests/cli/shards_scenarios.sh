#!/usr/bin/env bash
# Sharded campaigns end to end (docs/scale-out.md): N `salvo send --shard K/N`
# processes against one real `salvo emulate` on 127.0.0.1, then
# `salvo shards report`. Run by CTest, one test per scenario:
#   shards_scenarios.sh SALVO_BINARY SCENARIO
set -u
salvo=$1
scenario=$2
source "$(dirname "$0")/lib.sh"
export SALVO_TEST_KEY=shard-test-key

# make_campaign ROWS: recipients.csv and job.json in $work. Row i:
#   i % 41 == 0: no usable address (invalid; shard = row mod N)
#   i % 29 == 0: the address of row i-1 with the domain in capitals
#                (a duplicate once canonical, so it must meet row i-1)
#   else user<i>@example.com
make_campaign() {
  local rows=$1
  {
    echo "email,first_name"
    for ((i = 1; i <= rows; i++)); do
      if ((i % 41 == 0)); then echo "no-address-$i,X"
      elif ((i % 29 == 0 && (i - 1) % 41 != 0)); then echo "user$((i - 1))@EXAMPLE.COM,Dup"
      else echo "user$i@example.com,N$i"; fi
    done
  } >"$work/recipients.csv"
  job_json "$work/job.json" recipients.csv '"Hi %%first_name%%"' '"<p>Hi</p>"'
}

# Expected counts of make_campaign ROWS.
expected_invalid() { echo $(($1 / 41)); }
expected_duplicate() {
  local n=0
  for ((i = 29; i <= $1; i += 29)); do ((i % 41 != 0 && (i - 1) % 41 != 0)) && ((n++)); done
  echo $n
}

# send_shard K N [more options]: one shard, in the foreground.
send_shard() {
  local k=$1 n=$2
  shift 2
  "$salvo" send "$work/job.json" --shard "$k/$n" --endpoint "$url" --progress=none "$@" \
    >"$work/out.$k" 2>"$work/err.$k"
}

# json_field NAME FILE: a number from a one-line JSON object.
json_field() { grep -o "\"$1\":[0-9a-z]*" "$2" | head -n1 | cut -d: -f2; }

# check_exactly_once: every accepted row's address recorded once by the
# emulator (or more often only when its line says ambiguous), nothing
# recorded that no shard accepted, and MessageIds unique under one MailingId.
check_exactly_once() {
  cat "$work"/results.shard-*-of-"$1".ndjson >"$work/all.ndjson"
  grep -o '"to":"[^"]*"' "$work/emails.ndjson" | sort | uniq -c | awk '$1 > 1 {print $2}' |
    cut -d'"' -f4 >"$work/delivered_twice"
  while read -r to; do
    grep -F "\"email\":\"$to\"" "$work/all.ndjson" | grep -q '"ambiguous":true' ||
      fail "$to delivered twice and not marked ambiguous"
  done <"$work/delivered_twice"
  local accepted delivered
  accepted=$(grep -c '"status":"accepted"' "$work/all.ndjson")
  delivered=$(grep -o '"to":"[^"]*"' "$work/emails.ndjson" | sort -u | wc -l)
  [[ $accepted == "$delivered" ]] || fail "$accepted rows accepted, $delivered addresses delivered"
  grep '"status":"accepted"' "$work/all.ndjson" | grep -o '"message_id":"[^"]*"' | sort |
    uniq -d >"$work/ids_twice"
  [[ ! -s $work/ids_twice ]] || fail "MessageIds in two rows: $(head -3 "$work/ids_twice")"
  local mailings
  mailings=$(grep -o '"mailing_id":"[^"]*"' "$work/emails.ndjson" | sort -u | wc -l)
  [[ $mailings == 1 ]] || fail "$mailings MailingIds across the shards, expected one campaign"
}

case "$scenario" in
three_processes)
  # Three processes at once on one CSV with duplicates and invalid rows;
  # the report first sees two shards (rows missing, exit 1), then three.
  rows=3000
  make_campaign $rows
  start_emulator
  send_shard 0 3 & p0=$!
  send_shard 1 3 & p1=$!
  wait $p0 || { cat "$work/err.0"; fail "shard 0/3 exit $?"; }
  wait $p1 || { cat "$work/err.1"; fail "shard 1/3 exit $?"; }
  [[ -s $work/results.shard-0-of-3.ndjson && -s $work/campaign.shard-1-of-3.journal ]] ||
    fail "no per-shard results and journal: $(ls "$work")"
  [[ ! -e $work/results.ndjson ]] || fail "a shard wrote the unsharded results file"
  "$salvo" shards report "$work/job.json" --of 3 >"$work/report" 2>"$work/report.err"
  rc=$?
  [[ $rc == 1 ]] || { cat "$work/report" "$work/report.err"; fail "two of three shards: exit $rc, expected 1"; }
  grep -q "shard 2/3: no results file" "$work/report.err" || fail "missing shard not named"
  grep -q "row(s) decided in no shard: [0-9]" "$work/report.err" || fail "missing rows not listed"
  send_shard 2 3 || { cat "$work/err.2"; fail "shard 2/3 exit $?"; }
  "$salvo" shards report "$work/job.json" --of 3 --json >"$work/report.json" 2>"$work/report.err" ||
    { cat "$work/report.json" "$work/report.err"; fail "shards report exit $?"; }
  [[ $(json_field complete "$work/report.json") == true ]] || fail "not complete: $(cat "$work/report.json")"
  [[ $(json_field rows "$work/report.json") == "$rows" ]] || fail "rows: $(cat "$work/report.json")"
  [[ $(json_field decided "$work/report.json") == "$rows" ]] || fail "decided: $(cat "$work/report.json")"
  [[ $(json_field invalid "$work/report.json") == "$(expected_invalid $rows)" ]] ||
    fail "invalid: $(cat "$work/report.json"), expected $(expected_invalid $rows)"
  [[ $(json_field duplicate "$work/report.json") == "$(expected_duplicate $rows)" ]] ||
    fail "duplicate: $(cat "$work/report.json"), expected $(expected_duplicate $rows)"
  accepted=$((rows - $(expected_invalid $rows) - $(expected_duplicate $rows)))
  [[ $(json_field accepted "$work/report.json") == "$accepted" ]] ||
    fail "accepted: $(cat "$work/report.json"), expected $accepted"
  # Each shard's own summary counts only its rows: they add up to the input.
  total=0
  for k in 0 1 2; do
    r=$(awk '$1 == "rows" && $2 == "read" {print $3}' "$work/out.$k")
    [[ -n $r && $r -lt $rows ]] || fail "shard $k read $r rows"
    total=$((total + r))
  done
  [[ $total == "$rows" ]] || fail "the shards read $total rows, the input has $rows"
  stop_emulator
  check_exactly_once 3
  # The table form agrees, and a doubled row is found: shard 0's results
  # copied in as shard 1's line doubles rows.
  "$salvo" shards report "$work/job.json" --of 3 >"$work/table" || fail "table exit $?"
  grep -Eq "^total +$rows " "$work/table" || fail "table: $(cat "$work/table")"
  head -n 3 "$work/results.shard-0-of-3.ndjson" >>"$work/results.shard-1-of-3.ndjson"
  "$salvo" shards report "$work/job.json" --of 3 >/dev/null 2>"$work/report.err"
  rc=$?
  [[ $rc == 1 ]] || fail "doubled rows: exit $rc, expected 1"
  grep -q "3 row(s) decided in more than one shard" "$work/report.err" ||
    fail "doubled rows not reported: $(cat "$work/report.err")"
  ;;
kill_resume)
  # Shard 1 of 3 is killed (SIGKILL) once its results file holds 600 lines,
  # then run again: it resumes, and the totals are exact.
  rows=${3:-12000}
  make_campaign "$rows"
  start_emulator --delay-ms 2
  send_shard 0 3 & p0=$!
  "$salvo" send "$work/job.json" --shard 1/3 --endpoint "$url" --progress=none --rate 1500 \
    >"$work/out.1" 2>"$work/err.1" &
  p1=$!
  for _ in $(seq 1500); do
    [[ -f $work/results.shard-1-of-3.ndjson ]] &&
      (($(wc -l <"$work/results.shard-1-of-3.ndjson") >= 600)) && break
    kill -0 $p1 2>/dev/null || break
    sleep 0.01
  done
  kill -0 $p1 2>/dev/null || fail "shard 1/3 finished before it could be killed: $(cat "$work/err.1")"
  kill -KILL $p1
  wait $p1 2>/dev/null
  killed_at=$(wc -l <"$work/results.shard-1-of-3.ndjson")
  ((killed_at < rows / 3)) || fail "shard 1/3 had decided all its rows ($killed_at) when killed"
  "$salvo" shards report "$work/job.json" --of 3 >/dev/null 2>&1 && fail "report passed with a killed shard"
  send_shard 1 3 || { cat "$work/err.1"; fail "resumed shard 1/3 exit $?"; }
  grep -q "rows read" "$work/out.1" || fail "no summary from the resumed shard"
  wait $p0 || { cat "$work/err.0"; fail "shard 0/3 exit $?"; }
  send_shard 2 3 || { cat "$work/err.2"; fail "shard 2/3 exit $?"; }
  "$salvo" shards report "$work/job.json" --of 3 --json >"$work/report.json" 2>"$work/report.err" ||
    { cat "$work/report.json" "$work/report.err"; fail "shards report exit $?"; }
  [[ $(json_field decided "$work/report.json") == "$rows" ]] || fail "decided: $(cat "$work/report.json")"
  [[ $(json_field doubled "$work/report.json") == 0 ]] || fail "doubled: $(cat "$work/report.json")"
  accepted=$((rows - $(expected_invalid "$rows") - $(expected_duplicate "$rows")))
  [[ $(json_field accepted "$work/report.json") == "$accepted" ]] ||
    fail "accepted: $(cat "$work/report.json"), expected $accepted"
  stop_emulator
  check_exactly_once 3
  ;;
refused_journal)
  # A shard resumes only its own journal: shard 0's files under shard 1's
  # names (a wrong volume), or under another N's, are refused, nothing sent.
  make_campaign 300
  start_emulator
  send_shard 0 3 || { cat "$work/err.0"; fail "shard 0/3 exit $?"; }
  sent=$(wc -l <"$work/emails.ndjson")
  cp "$work/campaign.shard-0-of-3.journal" "$work/campaign.shard-1-of-3.journal"
  cp "$work/results.shard-0-of-3.ndjson" "$work/results.shard-1-of-3.ndjson"
  send_shard 1 3
  rc=$?
  [[ $rc == 2 ]] || { cat "$work/err.1"; fail "another shard's journal: exit $rc, expected 2"; }
  grep -q "belongs to shard 0/3, and this run is shard 1/3" "$work/err.1" ||
    fail "message: $(cat "$work/err.1")"
  cp "$work/campaign.shard-0-of-3.journal" "$work/campaign.shard-0-of-2.journal"
  "$salvo" send "$work/job.json" --shard 0/2 --endpoint "$url" --progress=none >/dev/null 2>"$work/err"
  rc=$?
  [[ $rc == 2 ]] || { cat "$work/err"; fail "another N's journal: exit $rc, expected 2"; }
  grep -q "belongs to shard 0/3, and this run is shard 0/2" "$work/err" || fail "message: $(cat "$work/err")"
  [[ $(wc -l <"$work/emails.ndjson") == "$sent" ]] || fail "something was sent before refusing"
  # The shard's own journal resumes: nothing more to send.
  send_shard 0 3 || fail "shard 0/3 again: exit $?"
  [[ $(wc -l <"$work/emails.ndjson") == "$sent" ]] || fail "a finished shard sent again"
  ;;
bad_values)
  # Each wrong shard value is a usage error (exit 2) that says what to do.
  make_campaign 10
  expect_usage() {  # expect_usage TEXT -- COMMAND...
    local text=$1
    shift 2
    "$@" >/dev/null 2>"$work/err"
    local rc=$?
    [[ $rc == 2 ]] || fail "$*: exit $rc, expected 2"
    grep -qF -- "$text" "$work/err" || fail "$*: no '$text' in: $(cat "$work/err")"
  }
  expect_usage "shard K must be below N (shards are 0 to 1)" -- "$salvo" send "$work/job.json" --shard 3/2
  expect_usage "has no shards (N is 0)" -- "$salvo" send "$work/job.json" --shard 0/0
  expect_usage "give K/N" -- "$salvo" send "$work/job.json" --shard three
  expect_usage "JOB_COMPLETION_INDEX" -- env -u JOB_COMPLETION_INDEX "$salvo" send "$work/job.json" --shard-count 3
  expect_usage "make the Job's completions equal --shard-count" -- \
    env JOB_COMPLETION_INDEX=3 "$salvo" send "$work/job.json" --shard-count 3
  expect_usage "not both" -- "$salvo" send "$work/job.json" --shard 0/3 --shard-count 3
  expect_usage "--shard-count 0" -- env JOB_COMPLETION_INDEX=0 "$salvo" send "$work/job.json" --shard-count 0
  sed 's/"server_id": 4242,/"server_id": 4242, "shard": "0\/3",/' "$work/job.json" >"$work/keyed.json"
  expect_usage "drop one of them" -- "$salvo" send "$work/keyed.json" --shard 1/3
  expect_usage "names one shard" -- "$salvo" shards report "$work/keyed.json" --of 3
  # The key and the same --shard agree; validate and preview see one shard.
  "$salvo" validate "$work/keyed.json" >"$work/validate" || fail "validate of a shard: exit $?"
  grep -q "^shard      0/3 (" "$work/validate" || fail "validate: $(cat "$work/validate")"
  checked=$(awk '$1 == "rows" {print $2}' "$work/validate")
  others=$(sed -n 's/^shard      0\/3 (\([0-9]*\) rows.*/\1/p' "$work/validate")
  [[ $((checked + others)) == 10 ]] || fail "validate: $checked + $others rows, expected 10"
  "$salvo" preview "$work/keyed.json" --rows 10 >"$work/preview" || fail "preview of a shard: exit $?"
  [[ $(grep -c '^To:' "$work/preview") == "$checked" ]] || fail "preview showed $(grep -c '^To:' "$work/preview") rows of $checked"
  start_emulator
  "$salvo" send "$work/keyed.json" --shard 0/3 --endpoint "$url" --progress=none >/dev/null 2>"$work/err" ||
    fail "the key and an equal --shard: exit $?: $(cat "$work/err")"
  [[ -f $work/results.shard-0-of-3.ndjson && ! -e $work/results.shard-0-of-3.shard-0-of-3.ndjson ]] ||
    fail "paths: $(ls "$work")"
  ;;
*)
  fail "unknown scenario $scenario"
  ;;
esac
echo "ok: $scenario"
