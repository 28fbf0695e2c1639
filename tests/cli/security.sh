#!/usr/bin/env bash
# Security checks on the real salvo binary against a real `salvo emulate`:
#   key_never_printed  a planted API key appears in no output of any command
#   header_injection   CR/LF merge values make the row invalid; HTML values
#                      are escaped by default (checked in the emulator's record)
#   tls                a self-signed emulator: certificate error (exit 3) by
#                      default, success with tls.ca_file
# The refusal of --api-key on argv is the cli.api_key_refused scenario.
#   security.sh SALVO_BINARY SCENARIO
set -u
salvo=$1
scenario=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
limit=120

# run OUT ERR -- ARGS...: salvo ARGS with a timeout; sets $rc.
run() {
  local out=$1 err=$2
  shift 3
  timeout -k 5 "$limit" "$salvo" "$@" >"$out" 2>"$err"
  rc=$?
  ((rc == 124 || rc == 137)) && fail "salvo $* hung"
  ((rc > 3)) && { tail -20 "$err" >&2; fail "salvo $* crashed (exit $rc)"; }
  return 0
}

# write_job ROWS: $work/recipients.csv and $work/job.json (key from
# $SALVO_TEST_KEY unless the caller edits the job).
write_job() {
  local rows=$1
  {
    echo "email,name,first_name,code"
    for ((i = 1; i <= rows; i++)); do echo "user$i@example.com,User $i,U$i,c$i"; done
  } >"$work/recipients.csv"
  job_json "$work/job.json" recipients.csv '"Code %%code%% for %%name%%"' \
    '"<p>Hi %%name%%, %%code:url%%</p>"' ', "headers": { "X-Code": "%%code%%" }'
}

case $scenario in
key_never_printed)
  # A key no other string in the outputs can look like.
  key="SalvoPlantedKey-$$-$RANDOM-7f3a9c"
  export SALVO_TEST_KEY=$key EMU_KEY=$key
  start_emulator --api-key-env EMU_KEY
  write_job 40
  out=$work/outputs
  mkdir -p "$out"
  # 1. A good run, every output file asked for, progress as JSON on stderr.
  run "$out/send.out" "$out/send.err" -- send "$work/job.json" --endpoint "$url" --progress=json \
    --report "$out/report.json" --set limits.messages_per_request=4
  [[ $rc == 0 ]] || { cat "$out/send.err" >&2; fail "send: exit $rc, expected 0"; }
  [[ $(lines_with '"status":"accepted"' "$work/results.ndjson") == 40 ]] || fail "not 40 accepted"
  [[ -s $work/campaign.journal && -s $out/report.json ]] || fail "no journal or report to check"
  cp "$work/results.ndjson" "$work/campaign.journal" "$out/"
  # 2. Run again (resume path: already finished).
  run "$out/again.out" "$out/again.err" -- send "$work/job.json" --endpoint "$url" --progress=json
  # 3. preview: plain, --request, --out.
  run "$out/preview.out" "$out/preview.err" -- preview "$work/job.json" --rows 2
  [[ $rc == 0 ]] || fail "preview: exit $rc"
  run "$out/request.out" "$out/request.err" -- preview "$work/job.json" --rows 2 --request
  [[ $rc == 0 ]] || fail "preview --request: exit $rc"
  grep -q '"ApiKey":"\*\*\*\*"' "$out/request.out" || fail "--request does not show the key as ****"
  run "$out/eml.out" "$out/eml.err" -- preview "$work/job.json" --rows 2 --out "$out/eml"
  # 4. validate.
  run "$out/validate.out" "$out/validate.err" -- validate "$work/job.json"
  # 5. A failing run: the emulator wants another key (401, exit 3).
  stop_emulator
  export EMU_KEY=some-other-key
  start_emulator --api-key-env EMU_KEY
  run "$out/401.out" "$out/401.err" -- send "$work/job.json" --endpoint "$url" --progress=json \
    --restart --report "$out/401-report.json"
  [[ $rc == 3 ]] || { cat "$out/401.err" >&2; fail "wrong key: exit $rc, expected 3"; }
  grep -qi 'auth' "$out/401.err" "$out/401.out" || fail "the 401 run does not say why it stopped"
  cp "$work/results.ndjson" "$out/401-results.ndjson"
  cp "$work/campaign.journal" "$out/401-campaign.journal"
  # 6. A run that cannot connect (a transport error message).
  run "$out/refused.out" "$out/refused.err" -- send "$work/job.json" \
    --endpoint "http://127.0.0.1:1/api/v1/email" --progress=none --restart \
    --set retry.max_attempts=1 --set timeouts.connect_ms=500 --set retry.give_up_after=1s
  [[ $rc == 3 ]] || { cat "$out/refused.err" >&2; fail "refused: exit $rc, expected 3"; }
  grep -q 'endpoint unreachable since' "$out/refused.err" || fail "the outage is not said"
  # 7. The same with the key in a file (api_key_file) instead of the environment.
  printf '%s\n' "$key" >"$work/key.txt"
  unset SALVO_TEST_KEY
  sed -i 's/"api_key_env": "SALVO_TEST_KEY"/"api_key_file": "key.txt"/' "$work/job.json"
  run "$out/file.out" "$out/file.err" -- send "$work/job.json" --endpoint "$url" --progress=json \
    --restart --report "$out/file-report.json"
  [[ $rc == 3 ]] || { cat "$out/file.err" >&2; fail "key file, wrong key: exit $rc, expected 3"; }
  run "$out/file-request.out" "$out/file-request.err" -- preview "$work/job.json" --request
  cp "$work/results.ndjson" "$out/file-results.ndjson"
  cp "$work/campaign.journal" "$out/file-campaign.journal"
  # Every file written above, text or binary, must lack the key.
  files=$(find "$out" -type f | wc -l)
  ((files >= 25)) || fail "only $files output files to check"
  leaks=$(grep -rlaF -- "$key" "$out" || true)
  [[ -z $leaks ]] || fail "the API key appears in: $leaks"
  # The check itself works: a planted copy is found.
  echo "$key" >"$out/canary"
  grep -rqaF -- "$key" "$out" || fail "the leak check cannot find the key"
  echo "checked $files files"
  ;;
header_injection)
  export SALVO_TEST_KEY=k
  start_emulator
  write_job 0
  cat >"$work/recipients.csv" <<'CSV'
email,name,first_name,code
a1@example.com,Ann,"Ann
Bcc: evil1@attacker.example",c1
a2@example.com,"Bob
Bcc: evil2@attacker.example",Bob,c2
a3@example.com,Cid,Cid,"c3
X-Injected: 1"
a4@example.com,"<script>alert('x')</script> & ""Q""",Dee,c4
a5@example.com,Eve,Eve,c5
CSV
  printf 'a6@example.com,Fay,"Fay\rX-Cr: 1",c6\n' >>"$work/recipients.csv"
  run "$work/out" "$work/err" -- send "$work/job.json" --endpoint "$url" --progress=none
  [[ $rc == 0 ]] || { cat "$work/err" >&2; fail "exit $rc, expected 0"; }
  stop_emulator
  r=$work/results.ndjson
  [[ $(wc -l <"$r") == 6 ]] || fail "not 6 result lines"
  # Subject (first_name), To name (name), header X-Code (code): each CR/LF row invalid.
  for row in 1 2 3 6; do
    grep -q "^{\"row\":$row,.*\"status\":\"invalid\".*line break" "$r" ||
      { cat "$r" >&2; fail "row $row with CR/LF in a header field is not invalid"; }
  done
  [[ $(lines_with '"status":"accepted"' "$r") == 2 ]] || fail "not 2 accepted"
  rec=$work/emails.ndjson
  [[ $(wc -l <"$rec") == 2 ]] || fail "the emulator recorded $(wc -l <"$rec"), expected 2"
  grep -q 'attacker\|Injected\|X-Cr' "$rec" && fail "an injected header reached the emulator"
  # HTML escaped in the html body, as written in the text body.
  line=$(grep '"to":"a4@example.com"' "$rec") || fail "row 4 not recorded"
  [[ $line == *'"html":"<p>Hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Q&quot;, c4</p>"'* ]] ||
    fail "the HTML value is not escaped: $line"
  [[ $line == *'"text":"Code c4 for <script>alert('"'"'x'"'"')</script> & \"Q\""'* ]] ||
    fail "the text value was changed: $line"
  ;;
tls)
  export SALVO_TEST_KEY=k
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1 || fail "openssl cannot make a certificate"
  # Both files or neither.
  run "$work/o" "$work/e" -- emulate --listen 127.0.0.1:0 --tls-cert "$work/cert.pem"
  [[ $rc == 2 ]] || fail "--tls-cert without --tls-key: exit $rc, expected 2"
  start_emulator --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
  [[ $url == https://127.0.0.1:* ]] || fail "the TLS emulator printed $url"
  write_job 30
  run "$work/out" "$work/err" -- send "$work/job.json" --endpoint "$url" --progress=none
  [[ $rc == 3 ]] || { cat "$work/err" >&2; fail "untrusted certificate: exit $rc, expected 3"; }
  grep -qi 'certificate' "$work/err" || { cat "$work/err" >&2; fail "no certificate error"; }
  [[ ! -s $work/emails.ndjson ]] || fail "sent over an unverified connection"
  run "$work/out" "$work/err" -- send "$work/job.json" --endpoint "$url" --progress=none \
    --set "tls.ca_file=$work/cert.pem"
  [[ $rc == 0 ]] || { cat "$work/err" >&2; fail "with tls.ca_file: exit $rc, expected 0"; }
  [[ $(lines_with '"status":"accepted"' "$work/results.ndjson") == 30 ]] || fail "not 30 accepted"
  stop_emulator
  [[ $(wc -l <"$work/emails.ndjson") == 30 ]] || fail "the emulator did not record 30"
  ;;
*) fail "unknown scenario $scenario" ;;
esac
echo "ok: $scenario"
