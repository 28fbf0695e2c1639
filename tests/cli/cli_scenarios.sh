#!/usr/bin/env bash
# CLI scenarios run by CTest: the real `salvo` binary against a real
# `salvo emulate` on 127.0.0.1 (port chosen by the kernel), files in a temp dir.
#   cli_scenarios.sh SALVO_BINARY SCENARIO
set -u
salvo=$1
scenario=$2
source "$(dirname "$0")/lib.sh"

# make_job ROWS [BAD_EVERY]: recipients.csv with ROWS rows (every BAD_EVERY-th
# address is bad<N>@example.com, which --reject-pattern can reject) and job.json.
make_job() {
  local rows=$1 bad=${2:-0}
  {
    echo "email,name,first_name,code"
    for ((i = 1; i <= rows; i++)); do
      if ((bad > 0 && i % bad == 0)); then echo "bad$i@example.com,Bad $i,Bad,c$i"
      else echo "user$i@example.com,User $i,User$i,c$i"; fi
    done
  } >"$work/recipients.csv"
  echo '<p>Hi %%first_name|friend%%, code %%code:url%%</p>' >"$work/body.html"
  job_json "$work/job.json" recipients.csv '"Code %%code%%"' '{"file": "body.html"}'
}

export SALVO_TEST_KEY=test-key-123

case $scenario in
send_ok)
  start_emulator
  make_job 300
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=json --max-in-flight 4 \
    --set limits.messages_per_request=5 --report "$work/report.json" >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "exit $rc, expected 0"; }
  [[ $(lines_with '"status":"accepted"' "$work/results.ndjson") == 300 ]] || fail "not 300 accepted"
  grep -q '"status":"finished"' "$work/report.json" || fail "report JSON lacks finished"
  grep -q '^{"progress":' "$work/err" || fail "no JSON progress line on a non-terminal stderr"
  # Never the same counts on two lines (the last report repeated the one before).
  grep '^{"progress":' "$work/err" | sed 's/"seconds":[0-9.]*,//; s/,"emails_per_second".*//' >"$work/counts"
  [[ -z $(uniq -d "$work/counts") ]] || { cat "$work/err"; fail "a progress line printed twice"; }
  grep -q 'accepted' "$work/out" || fail "no summary table"
  [[ $(wc -l <"$work/emails.ndjson") == 300 ]] || fail "emulator did not record 300 emails"
  grep -q 'test-key-123' "$work/out" "$work/err" && fail "the key was printed"
  # Run again: already finished, nothing sent twice.
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out2" 2>&1 || fail "second run exit $?"
  [[ $(wc -l <"$work/emails.ndjson") == 300 ]] || fail "second run sent again"
  ;;
send_some_rejected)
  start_emulator --reject-pattern '^bad[0-9]+@'
  make_job 200 10
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 1 ]] || { cat "$work/err"; fail "exit $rc, expected 1"; }
  [[ $(lines_with '"status":"rejected"' "$work/results.ndjson") == 20 ]] || fail "not 20 rejected"
  [[ $(lines_with '"status":"accepted"' "$work/results.ndjson") == 180 ]] || fail "not 180 accepted"
  ;;
unknown_key)
  make_job 3
  sed -i 's/"retry": {/"retry": { "max_atempts": 3,/' "$work/job.json"
  "$salvo" send "$work/job.json" >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 2 ]] || fail "exit $rc, expected 2"
  grep -q 'max_atempts' "$work/err" || { cat "$work/err"; fail "the unknown key is not named"; }
  "$salvo" send "$work/job.json" --set retry.max_attempts=x >"$work/out" 2>"$work/err"
  [[ $? == 2 ]] || fail "bad job accepted with --set"
  make_job 3
  "$salvo" send --set rate.emails_per_secnd=3 "$work/job.json" >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 2 ]] || fail "--set unknown key: exit $rc, expected 2"
  grep -q 'emails_per_secnd' "$work/err" || { cat "$work/err"; fail "--set key not named"; }
  echo '{ "endpoint": ' >"$work/broken.json"
  "$salvo" send "$work/broken.json" >"$work/out" 2>"$work/err"
  [[ $? == 2 ]] || fail "malformed JSON: expected exit 2"
  sed -i 's/"body.html"/"nope.html"/' "$work/job.json"
  "$salvo" send "$work/job.json" >"$work/out" 2>"$work/err"
  [[ $? == 2 ]] || fail "missing template file: expected exit 2"
  grep -q 'nope.html' "$work/err" || { cat "$work/err"; fail "missing template file not named"; }
  ;;
api_key_refused)
  make_job 3
  "$salvo" send "$work/job.json" --api-key secret123 >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 2 ]] || fail "exit $rc, expected 2"
  grep -q 'api_key_env' "$work/err" || fail "no hint about api_key_env"
  grep -q 'secret123' "$work/err" "$work/out" && fail "the key was echoed"
  # Every spelling, on every subcommand, before or after the job.
  for args in "send --api-key=secret123 $work/job.json" "preview $work/job.json --api-key secret123" \
              "validate --api-key=secret123 $work/job.json" "emulate --api-key secret123"; do
    # shellcheck disable=SC2086
    timeout 30 "$salvo" $args >"$work/out" 2>"$work/err"
    rc=$?
    [[ $rc == 2 ]] || fail "$args: exit $rc, expected 2"
    grep -q 'api_key_env' "$work/err" || fail "$args: no hint about api_key_env"
    grep -q 'secret123' "$work/err" "$work/out" && fail "$args: the key was echoed"
  done
  [[ -e $work/results.ndjson ]] && fail "a refused run wrote results"
  unset SALVO_TEST_KEY
  "$salvo" send "$work/job.json" >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 2 ]] || fail "no key: exit $rc, expected 2"
  grep -q 'SALVO_TEST_KEY' "$work/err" || { cat "$work/err"; fail "the variable is not named"; }
  ;;
auth_failure_stops)
  export EMU_KEY=the-right-key
  start_emulator --api-key-env EMU_KEY
  make_job 50
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 3 ]] || { cat "$work/err"; fail "exit $rc, expected 3"; }
  grep -q "refused the credentials .*the environment variable SALVO_TEST_KEY and server_id 4242 in $work/job.json" "$work/err" ||
    { cat "$work/err"; fail "the 401 message names neither the key's variable nor server_id"; }
  grep -q '\./\./' "$work/err" && fail "a path with ././"
  ;;
retry_failed)
  start_emulator --fault 503@5x3
  make_job 200
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none --max-in-flight 1 \
    --set retry.max_attempts=1 >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 1 ]] || { cat "$work/err"; fail "exit $rc, expected 1 (30 rows failed)"; }
  [[ $(lines_with '"status":"failed"' "$work/results.ndjson") == 30 ]] || fail "not 30 failed"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none --retry-failed --restart \
    >"$work/out" 2>"$work/err"
  [[ $? == 2 ]] || fail "--retry-failed with --restart: expected exit 2"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none --retry-failed \
    >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "--retry-failed: exit $rc, expected 0"; }
  grep -q '30 failed or unknown row(s) reopened' "$work/err" || { cat "$work/err"; fail "no reopen count"; }
  [[ $(wc -l <"$work/results.ndjson") == 200 ]] || fail "not one line per row"
  [[ $(lines_with '"status":"accepted"' "$work/results.ndjson") == 200 ]] || fail "not 200 accepted"
  [[ $(cut -d, -f1 "$work/results.ndjson" | sort -u | wc -l) == 200 ]] || fail "a row has two lines"
  [[ $(wc -l <"$work/emails.ndjson") == 200 ]] || fail "the emulator did not record each row once"
  ;;
preview)
  make_job 5
  "$salvo" preview "$work/job.json" --rows 2 >"$work/out" 2>"$work/err" || fail "preview exit $?"
  grep -q '^Subject: Hello User1$' "$work/out" || { cat "$work/out"; fail "row 1 subject"; }
  grep -q '^Subject: Hello User2$' "$work/out" || fail "row 2 subject"
  grep -q 'User3' "$work/out" && fail "rendered more than --rows"
  "$salvo" preview "$work/job.json" --rows 2 --request >"$work/req" 2>"$work/err" || fail "--request exit $?"
  # stdout is the JSON body alone (| jq works); the URL goes to stderr.
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/req" ||
    { cat "$work/req"; fail "--request stdout is not one JSON document"; }
  grep -q '^POST ' "$work/err" || fail "--request: no POST line on stderr"
  grep -q '"ApiKey":"\*\*\*\*"' "$work/req" || { cat "$work/req"; fail "key not redacted"; }
  grep -q 'test-key-123' "$work/req" && fail "the key was printed"
  grep -q '"Subject":"Hello User2"' "$work/req" || fail "request lacks row 2"
  # A one-letter test key: the ApiKey member is redacted, the recipients'
  # text is printed as it would be sent (no "e" turned into ****).
  SALVO_TEST_KEY=e "$salvo" preview "$work/job.json" --rows 2 --request >"$work/req-e" 2>"$work/err" ||
    fail "--request with a short key: exit $?"
  grep -q '"ApiKey":"\*\*\*\*"' "$work/req-e" || { cat "$work/req-e"; fail "short key not redacted"; }
  grep -q '"EmailAddress":"user1@example.com"' "$work/req-e" ||
    { cat "$work/req-e"; fail "a short key's letters were redacted in the recipients' text"; }
  "$salvo" preview "$work/job.json" --rows 3 --out "$work/eml" >"$work/out" 2>&1 || fail "--out exit $?"
  [[ $(ls "$work/eml" | wc -l) == 3 ]] || fail "not 3 .eml files"
  grep -q '^Subject: Hello User3' "$work/eml/row-3.eml" || fail ".eml subject"
  # Personal data: files only their owner reads.
  [[ $(stat -c %a "$work/eml/row-3.eml") == 600 ]] || fail ".eml mode $(stat -c %a "$work/eml/row-3.eml")"
  for h in Date Message-ID From To Subject; do
    grep -q "^$h: " "$work/eml/row-3.eml" || fail ".eml has no $h header"
  done
  # CRLF throughout: no line ends with a bare LF.
  [[ $(grep -c -v $'\r$' "$work/eml/row-3.eml") == 0 ]] || fail ".eml has bare LF line endings"
  # A non-ASCII subject and a name with quotes are encoded (RFC 2047), escaped.
  sed -i 's/"subject": "Hello %%first_name|friend%%"/"subject": "Grüße %%first_name|friend%%", "reply_to": {"email": "r@example.com", "name": "Say \\"hi\\""}/' "$work/job.json"
  "$salvo" preview "$work/job.json" --rows 1 --out "$work/eml3" >"$work/out" 2>&1 || { cat "$work/out"; fail "--out (utf-8) exit $?"; }
  grep -q '^Subject: =?UTF-8?B?R3LDvMOfZSBVc2VyMQ==?=' "$work/eml3/row-1.eml" || { cat "$work/eml3/row-1.eml"; fail ".eml subject not RFC 2047"; }
  grep -q '^Reply-To: "Say \\"hi\\"" <r@example.com>' "$work/eml3/row-1.eml" || { cat "$work/eml3/row-1.eml"; fail ".eml Reply-To"; }
  # The sample's inline logo: HTML and logo inside multipart/related, the two
  # bodies inside multipart/alternative, as mail clients expect.
  "$salvo" preview "$(dirname "$0")/../../samples/campaign/job.json" --rows 1 --out "$work/eml2" \
    >"$work/out" 2>&1 || fail "sample --out exit $?"
  eml=$(ls "$work"/eml2/*.eml | head -n1)
  tr -d '\r' <"$eml" | grep '^Content-Type: multipart\|^Content-ID\|^Content-Type: text' \
    | cut -d: -f2- | cut -d';' -f1 | tr '\n' '|' >"$work/shape"
  [[ $(cat "$work/shape") == ' multipart/related| multipart/alternative| text/plain| text/html| <logo>|' ]] ||
    fail ".eml MIME structure: $(cat "$work/shape")"
  # A bad row is listed with its row number.
  sed -i '3s/.*/not-an-address,X,X,c2/' "$work/recipients.csv"
  "$salvo" preview "$work/job.json" --rows 3 >"$work/out" 2>&1
  grep -q '^row 2 (line 3)' "$work/out" || { cat "$work/out"; fail "bad row not listed"; }
  ;;
validate)
  "$salvo" validate "$(dirname "$0")/../../samples/campaign/job.json" >"$work/out" 2>&1
  rc=$?
  [[ $rc == 1 ]] || { cat "$work/out"; fail "sample campaign: exit $rc, expected 1"; }
  grep -q '^valid      990$' "$work/out" || { cat "$work/out"; fail "valid count"; }
  grep -q '^invalid    3$' "$work/out" || fail "invalid count"
  grep -q '^duplicate  2$' "$work/out" || fail "duplicate count"
  grep -q '^suppressed 5$' "$work/out" || fail "suppressed count"
  grep -q 'row 100' "$work/out" || fail "first error not listed with its row"
  make_job 20
  sed -i 's/"subject": "Hello %%first_name|friend%%"/"subject": "Hello %%First Name%%"/' "$work/job.json"
  "$salvo" validate "$work/job.json" >"$work/out" 2>&1
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/out"; fail "clean job: exit $rc, expected 0"; }
  grep -q '^warning: .*%%First Name%%' "$work/out" || { cat "$work/out"; fail "no literal-placeholder warning"; }
  sed -i 's/"subject": "Hello %%First Name%%"/"subject": "Hello %%nosuchfield%%"/' "$work/job.json"
  "$salvo" validate "$work/job.json" >"$work/out" 2>&1
  [[ $? == 2 ]] || fail "unknown field: expected exit 2"
  ;;
proof)
  start_emulator
  make_job 10
  "$salvo" send "$work/job.json" --endpoint "$url" --proof 'me@example.org, boss@example.org' \
    --proof-rows 2 >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "exit $rc, expected 0"; }
  [[ $(wc -l <"$work/emails.ndjson") == 4 ]] || fail "not 4 proof emails"
  [[ $(lines_with 'me@example.org' "$work/emails.ndjson") == 2 ]] || fail "me@ not sent twice"
  grep -q 'user1@example.com' "$work/emails.ndjson" && fail "a real recipient got a proof"
  [[ -e $work/results.ndjson || -e $work/campaign.journal ]] && fail "the proof touched the journal"
  grep -q 'boss@example.org' "$work/out" || fail "proof output lacks the address"
  ;;
sigint_resume)
  start_emulator --delay-ms 40
  make_job 600
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none --max-in-flight 2 \
    --set limits.messages_per_request=5 >"$work/out" 2>"$work/err" &
  pid=$!
  sleep 1
  kill -INT $pid
  wait $pid
  rc=$?
  [[ $rc == 3 ]] || { cat "$work/err"; fail "after SIGINT: exit $rc, expected 3"; }
  done1=$(wc -l <"$work/results.ndjson")
  ((done1 > 0 && done1 < 600)) || fail "first run decided $done1 rows"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=json --max-in-flight 8 \
    >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "resume: exit $rc, expected 0"; }
  [[ $(wc -l <"$work/results.ndjson") == 600 ]] || fail "not 600 result lines"
  # The last progress line: the campaign's 600, this run's rows apart.
  last=$(grep '^{"progress":' "$work/err" | tail -n1)
  [[ $last == *'"accepted":600,'* && $last == *"\"this_run\":$((600 - done1)),"* ]] ||
    { cat "$work/err"; fail "last progress line: $last (expected this_run $((600 - done1)))"; }
  dups=$(sed 's/^{"row":\([0-9]*\),.*/\1/' "$work/results.ndjson" | sort | uniq -d | wc -l)
  [[ $dups == 0 ]] || fail "$dups rows have two lines"
  [[ $(cut -d, -f1 "$work/emails.ndjson" | wc -l) -ge 600 ]] || fail "emails missing"
  ;;
demo)
  "$salvo" demo >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "demo exit $rc"; }
  grep -q '^demo: 990 accepted, 0 rejected, 0 failed, 3 invalid, 2 duplicate, 5 suppressed$' "$work/out" \
    || { cat "$work/out"; fail "demo counts"; }
  rec=$(sed -n 's/^the emulator recorded 990 emails in [0-9]* requests: //p' "$work/out")
  [[ -f $rec && $(wc -l <"$rec") == 990 ]] || fail "record file $rec"
  rm -rf "$(dirname "$rec")"
  ;;
emulate_faults)
  start_emulator --fail-rate 503:0.3 --fault reset_before_body:0.1 --seed 7
  make_job 100
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none --report "$work/report.json" \
    >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "exit $rc, expected 0 (faults are retried)"; }
  grep -q '"retries":0,' "$work/report.json" && fail "no retries despite injected faults"
  [[ $(lines_with '"status":"accepted"' "$work/results.ndjson") == 100 ]] || fail "not 100 accepted"
  "$salvo" emulate --listen 127.0.0.1:0 --fault no_such_kind >/dev/null 2>"$work/err2"
  [[ $? == 2 ]] || fail "bad --fault: expected exit 2"
  grep -q 'http_503' "$work/err2" || fail "bad --fault does not list the kinds"
  ;;
other_campaign)
  start_emulator
  make_job 20
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>&1 || fail "first run exit $?"
  sed -i 's/"subject": "Hello /"subject": "Hi /' "$work/job.json"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 2 ]] || { cat "$work/err"; fail "another campaign's journal: exit $rc, expected 2"; }
  grep -q -- '--restart' "$work/err" || fail "no --restart hint"
  [[ $(wc -l <"$work/emails.ndjson") == 20 ]] || fail "sent something before refusing"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none --restart >"$work/out" 2>&1 || fail "--restart exit $?"
  [[ -f $work/campaign.journal.1 && -f $work/results.ndjson.1 ]] || fail "old files not kept aside"
  [[ $(wc -l <"$work/emails.ndjson") == 40 ]] || fail "--restart did not send again"
  ;;
server_id_fix)
  # A 401 for a wrong server_id: fixing server_id resumes the campaign,
  # since nothing was accepted under the old one; the journal records the
  # change, and a later resume under the new server_id needs no notice.
  start_emulator --server-id 777
  make_job 30
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 3 ]] || { cat "$work/err"; fail "wrong server_id: exit $rc, expected 3"; }
  sed -i 's/"server_id": 4242/"server_id": 777/' "$work/job.json"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "resume after fixing server_id: exit $rc, expected 0"; }
  grep -q 'resuming under server_id 777 (the journal had 4242; no row was accepted' "$work/err" ||
    { cat "$work/err"; fail "the resume does not say that server_id changed"; }
  [[ $(lines_with '"status":"accepted"' "$work/results.ndjson") == 30 ]] || fail "not 30 accepted"
  [[ $(wc -l <"$work/results.ndjson") == 30 ]] || fail "not one line per row"
  [[ $(wc -l <"$work/emails.ndjson") == 30 ]] || fail "the emulator did not record each row once"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/err"; fail "the finished campaign again: exit $rc, expected 0"; }
  grep -q 'resuming under server_id' "$work/err" && fail "the change was not recorded in the journal"
  # Rows were accepted under 777: another server_id is refused, and says why.
  sed -i 's/"server_id": 777/"server_id": 778/' "$work/job.json"
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err"
  rc=$?
  [[ $rc == 2 ]] || { cat "$work/err"; fail "server_id changed after acceptances: exit $rc, expected 2"; }
  grep -q 'written with server_id 777, and 30 row(s) were or may have been accepted under it' "$work/err" ||
    { cat "$work/err"; fail "the refusal does not say why"; }
  grep -q 'Put server_id 777 back to resume, or use --restart' "$work/err" || fail "no way out named"
  [[ $(wc -l <"$work/emails.ndjson") == 30 ]] || fail "sent something before refusing"
  ;;
emulate_listen_names)
  # --listen takes a name (resolved) and a bracketed IPv6 address, and a
  # send reaches it; a missing port or a bad name is a usage error.
  "$salvo" emulate --listen localhost:0 >"$work/emu.out" 2>"$work/emu.err" &
  emu_pid=$!
  url=$(wait_url "$work/emu.out" "$work/emu.err" "the emulator on localhost:0") || exit 1
  [[ $url =~ ^http://127\.0\.0\.1:[0-9]+/api/v1/email$ ]] || fail "localhost:0 listens on $url"
  make_job 5
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/out" 2>"$work/err" ||
    { cat "$work/err"; fail "send to $url: exit $?"; }
  stop_emulator
  if [[ -n $(grep -l '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null) ]]; then
    "$salvo" emulate --listen '[::1]:0' >"$work/emu6.out" 2>"$work/emu6.err" &
    emu_pid=$!
    url=$(wait_url "$work/emu6.out" "$work/emu6.err" "the emulator on [::1]:0") || exit 1
    [[ $url =~ ^http://\[::1\]:[0-9]+/api/v1/email$ ]] || fail "[::1]:0 listens on $url"
    stop_emulator
  else
    echo "note: no IPv6 loopback here; [::1] not tried"
  fi
  "$salvo" emulate --listen 127.0.0.1 >"$work/out" 2>"$work/err"
  [[ $? == 2 ]] || fail "--listen without a port: expected exit 2"
  grep -q 'no port' "$work/err" || { cat "$work/err"; fail "no port: not said"; }
  "$salvo" emulate --listen no-such-host.invalid:0 >"$work/out" 2>"$work/err"
  [[ $? == 2 ]] || fail "--listen with an unknown name: expected exit 2"
  grep -q 'cannot resolve' "$work/err" || { cat "$work/err"; fail "unresolvable: not said"; }
  ;;
*) fail "unknown scenario $scenario" ;;
esac
echo "ok: $scenario"
