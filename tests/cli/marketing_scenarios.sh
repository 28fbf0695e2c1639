#!/usr/bin/env bash
# The Marketing and Reporting APIs through the real salvo binary against a
# real `salvo emulate` (docs/marketing-and-reporting.md):
#   lists_roundtrip      push 2 000 contacts with 6 custom fields, ls, export,
#                        and the data file across an emulator restart
#   push_faults N        push N contacts under 10 % 503s with a contact limit
#                        of N-100: exact per-contact results, nothing twice
#   lists_unsubscribe    the suppression store's unsubscribes and complaints
#   reconcile            all agree; then each kind of planted disagreement
#   list_campaign N      a list of N contacts with 6 custom fields sent in
#                        both merge modes; a changed list refused on resume
#   usage                the command-line errors
set -euo pipefail
salvo=$1
scenario=$2
source "$(dirname "$0")/lib.sh"
export SALVO_TEST_KEY=test-key SOCKETLABS_MARKETING_API_KEY=mkey SOCKETLABS_REPORTING_API_KEY=rkey

# contacts FILE N: a CSV of N contacts with 6 custom fields.
contacts() {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,first_name,last_name,city,plan,age,score,joined,note\n")
    for i in range(int(sys.argv[2])):
        f.write(f'c{i}@example.com,First{i},Last{i},City{i % 7},plan{i % 3},{20 + i % 50},'
                f'{i * 7 % 101},2026-01-{1 + i % 28:02d},"note, with comma {i}"\n')
PY
}

marketing() { "$salvo" lists "$@" --set server_id=4242 --set "marketing.endpoint=${url%/api/v1/email}/marketing/v1" \
  --set retry.base_delay_ms=2 --set retry.max_delay_ms=10 --set retry.max_attempts=12 \
  --set rate.max_in_flight=32; }

seed_list() { echo '{"lists":[{"id":7,"name":"newsletter","contacts":[]}]}' >"$work/marketing.json"; }

case $scenario in
lists_roundtrip)
  seed_list
  start_emulator --marketing-data "$work/marketing.json"
  contacts "$work/c.csv" 2000
  marketing push "$work/c.csv" --list 7 --results "$work/push.ndjson" 2>"$work/push.err" ||
    { cat "$work/push.err"; fail "push failed"; }
  [[ $(lines_with '"fate":"created"' "$work/push.ndjson") == 2000 ]] || fail "not 2000 created"
  marketing ls --json >"$work/ls.json" 2>/dev/null || fail "ls failed"
  grep -q '"id":7,"name":"newsletter","contactCount":2000' "$work/ls.json" || fail "ls: $(cat "$work/ls.json")"
  marketing export 7 --out "$work/export.ndjson" --page-size 300 2>/dev/null || fail "export failed"
  python3 - "$work/c.csv" "$work/export.ndjson" <<'PY' || fail "export differs from the pushed file"
import csv, json, sys
# The list holds contacts in the order the upserts arrived (many in flight).
rows = sorted(csv.DictReader(open(sys.argv[1])), key=lambda r: r["email"])
got = sorted((json.loads(l) for l in open(sys.argv[2])), key=lambda r: r["email"])
assert len(got) == len(rows), (len(got), len(rows))
for r, g in zip(rows, got):
    assert r == g, (r, g)
PY
  marketing export 7 --format csv --out "$work/export.csv" 2>/dev/null || fail "csv export failed"
  cmp -s <(sort "$work/c.csv") <(sort "$work/export.csv") || fail "the CSV export differs"
  # Pushing again updates in place.
  marketing push "$work/c.csv" --list 7 --fields city --results "$work/push2.ndjson" 2>/dev/null
  [[ $(lines_with '"fate":"updated"' "$work/push2.ndjson") == 2000 ]] || fail "second push: not 2000 updated"
  stop_emulator
  grep -q '"emailAddress":"c1999@example.com"' "$work/marketing.json" || fail "data file not written"
  start_emulator --marketing-data "$work/marketing.json"
  marketing export 7 --out "$work/export2.ndjson" 2>/dev/null || fail "export after restart failed"
  [[ $(wc -l <"$work/export2.ndjson") == 2000 ]] || fail "the restart lost contacts"
  grep -q '"plan"' "$work/export2.ndjson" && fail "--fields city kept other custom fields"
  marketing export 99 >/dev/null 2>"$work/err" && fail "exported a missing list"
  grep -q '404' "$work/err" || fail "no 404 for a missing list: $(cat "$work/err")"
  ;;
push_faults)
  n=$3
  seed_list
  start_emulator --marketing-data "$work/marketing.json" --fault http_503:0.1 --max-contacts $((n - 100))
  contacts "$work/c.csv" "$n"
  rc=0
  marketing push "$work/c.csv" --list 7 --results "$work/push.ndjson" 2>"$work/push.err" || rc=$?
  [[ $rc == 1 ]] || { cat "$work/push.err"; fail "push: exit $rc, expected 1 (some refused)"; }
  curl -s "${url%/api/v1/email}/stats" >"$work/stats.json"
  marketing export 7 --out "$work/export.ndjson" 2>/dev/null || fail "export failed"
  python3 - "$work/push.ndjson" "$work/export.ndjson" "$work/stats.json" "$n" <<'PY' || fail "results are not exact"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
listed = [json.loads(l)["email"] for l in open(sys.argv[2])]
stats = json.load(open(sys.argv[3])); n = int(sys.argv[4])
assert len(res) == n, len(res)
assert [r["row"] for r in res] == list(range(1, n + 1))
fates = {}
for r in res: fates[r["fate"]] = fates.get(r["fate"], 0) + 1
assert fates == {"created": n - 100, "over_contact_limit": 100}, fates
created = {r["email"] for r in res if r["fate"] == "created"}
assert len(listed) == len(set(listed)) == n - 100, "a contact was added twice"
assert set(listed) == created, "the list and the results disagree"
assert stats["faults"]["http_503"] > n // 20, stats["faults"]
assert sum(1 for r in res if r["attempts"] > 1) > 0
print(f"{n} contacts: {fates}, 503s {stats['faults']['http_503']}")
PY
  ;;
lists_unsubscribe)
  seed_list
  start_emulator --marketing-data "$work/marketing.json"
  db=$work/events.sqlite
  "$salvo" suppressions add --db "$db" u1@example.com u2@example.com --reason unsubscribe 2>/dev/null
  "$salvo" suppressions add --db "$db" c1@example.com --reason complaint 2>/dev/null
  "$salvo" suppressions add --db "$db" m1@example.com --reason manual 2>/dev/null
  marketing unsubscribe --db "$db" 2>"$work/err" || { cat "$work/err"; fail "unsubscribe failed"; }
  grep -q '3 unsubscribes and complaints' "$work/err" || fail "$(cat "$work/err")"
  marketing unsubscribe --db "$db" --since 2999-01-01 2>"$work/err" || fail "--since failed"
  grep -q ' 0 unsubscribes' "$work/err" || fail "--since did not filter: $(cat "$work/err")"
  marketing unsubscribe --db "$db" --since yesterday 2>"$work/err" && fail "took a bad --since"
  stop_emulator
  python3 - "$work/marketing.json" <<'PY' || fail "the platform's unsubscribes differ"
import json, sys
assert sorted(json.load(open(sys.argv[1]))["unsubscribed"]) == ["c1@example.com", "u1@example.com", "u2@example.com"]
PY
  ;;
reconcile)
  {
    echo "email,first_name"
    for ((i = 1; i <= 300; i++)); do echo "user$i@example.com,User$i"; done
  } >"$work/recipients.csv"
  job_json "$work/job.json" recipients.csv '"Hi %%first_name%%"' '"<p>Hi</p>"'
  rec() {
    "$salvo" reconcile "$work/job.json" --json --set "reporting.endpoint=${url%/api/v1/email}/v1" \
      --set reporting.user=ops --set reporting.grace_seconds=0 "$@"
  }
  # 1. All agree (the rejected addresses are failures the ledger knows).
  start_emulator --reject-pattern '^user1[0-9]@'
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/send.out" 2>&1 ||
    [[ $? == 1 ]] || { cat "$work/send.out"; fail "send failed"; }
  rec >"$work/r1.json" 2>"$work/err" || { cat "$work/r1.json" "$work/err"; fail "reconcile disagreed on an honest run"; }
  grep -q '"agree":true,"ledger_accepted":290,"platform_processed":290,"platform_failed":10' "$work/r1.json" ||
    fail "r1: $(cat "$work/r1.json")"
  # 2. An events store without the failures' events.
  "$salvo" suppressions add --db "$work/events.sqlite" nobody@example.com 2>/dev/null
  rc=0; rec --db "$work/events.sqlite" >"$work/r2.json" 2>"$work/err" || rc=$?
  [[ $rc == 1 ]] || fail "r2: exit $rc: $(cat "$work/r2.json" "$work/err")"
  grep -q '"failures_without_event":{"count":10,' "$work/r2.json" || fail "r2: $(cat "$work/r2.json")"
  stop_emulator
  # 3. The platform forgets 4 accepted emails and invents 3.
  rm -f "$work"/results.ndjson "$work"/campaign.journal
  start_emulator --report-forget 4 --report-invent 3
  "$salvo" send "$work/job.json" --endpoint "$url" --progress=none >"$work/send.out" 2>&1 ||
    { cat "$work/send.out"; fail "send 2 failed"; }
  rc=0; rec >"$work/r3.json" 2>"$work/err" || rc=$?
  [[ $rc == 1 ]] || fail "r3: exit $rc: $(cat "$work/r3.json" "$work/err")"
  python3 - "$work/r3.json" <<'PY' || fail "r3: $(cat "$work/r3.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert not r["agree"]
assert r["accepted_unknown_to_platform"]["count"] == 4, r
assert r["platform_unknown_to_ledger"]["count"] == 3, r
assert all(e.startswith("invented-") for e in r["platform_unknown_to_ledger"]["examples"]), r
assert r["failures_without_event"]["count"] == 0, r
PY
  # Text output, and the grace period turns missing rows into pending ones.
  rc=0; "$salvo" reconcile "$work/job.json" --set "reporting.endpoint=${url%/api/v1/email}/v1" \
    --set reporting.user=ops >"$work/r4.txt" 2>&1 || rc=$?
  [[ $rc == 1 ]] || fail "r4: exit $rc"
  grep -q 'pending *4 accepted rows' "$work/r4.txt" || fail "r4: $(cat "$work/r4.txt")"
  grep -q 'DISAGREE *3 messages the platform processed' "$work/r4.txt" || fail "r4: $(cat "$work/r4.txt")"
  grep -q 'rkey' "$work"/r*.json "$work/r4.txt" "$work/err" && fail "the Reporting API key was printed"
  ;;
list_campaign)
  # A list of N contacts with 6 custom fields as a campaign's recipients,
  # in both merge modes; then a list changed before a resume.
  n=$3
  python3 - "$work/marketing.json" "$n" <<'PY'
import json, sys
n = int(sys.argv[2])
contacts = [{"id": i + 1, "emailAddress": f"c{i}@example.com", "firstName": f"First{i}",
             "lastName": f"Last{i}", "customFields": [
                 {"name": "city", "value": f"City{i % 7}"}, {"name": "plan", "value": f"plan{i % 3}"},
                 {"name": "age", "value": str(20 + i % 50)}, {"name": "score", "value": str(i)},
                 {"name": "joined", "value": "2026-01-01"}, {"name": "note", "value": f"n{i}"}]}
            for i in range(n)]
json.dump({"lists": [{"id": 7, "name": "big", "contacts": contacts}]}, open(sys.argv[1], "w"))
PY
  # write_jobs: the job files for the emulator at $url.
  write_jobs() {
    local base=${url%/api/v1/email} mode
    for mode in local server; do
      cat >"$work/job-$mode.json" <<JSON
{ "endpoint": "$url", "server_id": 4242, "api_key_env": "SALVO_TEST_KEY",
  "marketing": { "endpoint": "$base/marketing/v1" },
  "recipients": { "marketing_list": 7 },
  "merge": "$mode",
  "results": "results-$mode.ndjson", "journal": "campaign-$mode.journal",
  "message": { "from": {"email": "news@example.com"}, "subject": "Hi %%first_name%%",
               "text": "%%city%% %%plan%% %%age%% %%score%% %%joined%% %%note%% %%last_name%%" },
  "rate": { "max_in_flight": 8 },
  "retry": { "base_delay_ms": 5, "max_delay_ms": 20 } }
JSON
    done
  }
  start_emulator --marketing-data "$work/marketing.json"
  write_jobs
  # validate and preview read the list: a first copy fetched now, then the
  # copy as it is, saying which; send then finds it unchanged.
  "$salvo" validate "$work/job-local.json" >"$work/val.out" 2>"$work/val.err" ||
    { cat "$work/val.err"; fail "validate of a list job failed"; }
  grep -q "marketing_list 7: no copy of the list yet; fetching it" "$work/val.err" || fail "$(cat "$work/val.err")"
  grep -q "$n contacts copied" "$work/val.err" || fail "$(cat "$work/val.err")"
  "$salvo" preview "$work/job-local.json" --rows 1 >"$work/prev.out" 2>"$work/prev.err" ||
    { cat "$work/prev.err"; fail "preview of a list job failed"; }
  grep -q "marketing_list 7: reading the copy the last salvo send made, .*campaign-local.journal.list-7.ndjson (written 20" \
    "$work/prev.err" || fail "$(cat "$work/prev.err")"
  grep -q "c0@example.com" "$work/prev.out" || fail "$(cat "$work/prev.out")"
  for mode in local server; do
    "$salvo" send "$work/job-$mode.json" --progress=none >"$work/send.out" 2>&1 ||
      { cat "$work/send.out"; fail "$mode: send failed"; }
    grep -q "marketing list 7: $n contacts\( copied\|, unchanged\)" "$work/send.out" || fail "$mode: $(cat "$work/send.out")"
    [[ $(lines_with '"status":"accepted"' "$work/results-$mode.ndjson") == "$n" ]] ||
      fail "$mode: not $n accepted: $(cat "$work/send.out")"
  done
  stop_emulator
  python3 - "$work/emails.ndjson" "$n" <<'PY' || fail "the emails do not carry the contacts' fields"
import json, sys
n = int(sys.argv[2])
seen = {}
lines = 0
for line in open(sys.argv[1]):
    e = json.loads(line); seen[e["to"]] = e; lines += 1
assert len(seen) == n and lines == 2 * n, (len(seen), lines)  # both modes, each once
for i in (0, n // 2, n - 1):
    e = seen[f"c{i}@example.com"]
    assert e["subject"] == f"Hi First{i}", e["subject"]
    assert e["text"] == f"City{i % 7} plan{i % 3} {20 + i % 50} {i} 2026-01-01 n{i} Last{i}", e["text"]
PY
  # The same list again: the finished campaign resumes with nothing to do.
  start_emulator --marketing-data "$work/marketing.json"
  write_jobs
  "$salvo" send "$work/job-local.json" --progress=none >"$work/send.out" 2>&1 ||
    { cat "$work/send.out"; fail "an unchanged list was refused"; }
  grep -q 'unchanged' "$work/send.out" || fail "$(cat "$work/send.out")"
  # A changed list is noticed, and refused with the way on.
  echo "email,first_name" >"$work/one.csv"; echo "late@example.com,Late" >>"$work/one.csv"
  marketing push "$work/one.csv" --list 7 --results "$work/p.ndjson" 2>/dev/null || fail "push failed"
  rc=0; "$salvo" send "$work/job-local.json" --progress=none >"$work/send.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "a changed list: exit $rc: $(cat "$work/send.out")"
  grep -q "changed since this campaign started ($n contacts then, $((n + 1)) now" "$work/send.out" ||
    fail "$(cat "$work/send.out")"
  # --accept-changed-source: only the contact no row decided is sent; the
  # rows before are moved aside, and reconcile reads both.
  "$salvo" send "$work/job-local.json" --progress=none --accept-changed-source >"$work/send.out" 2>&1 ||
    { cat "$work/send.out"; fail "--accept-changed-source failed"; }
  grep -q "$n already decided .*, 1 to send" "$work/send.out" || fail "$(cat "$work/send.out")"
  [[ $(wc -l <"$work/results-local.ndjson") == 1 ]] || fail "not only the new contact was sent"
  grep -q '"email":"late@example.com","status":"accepted"' "$work/results-local.ndjson" || fail "late not sent"
  [[ $(lines_with '"status":"accepted"' "$work/results-local.ndjson.before-change-1") == "$n" ]] ||
    fail "the decided rows were not kept"
  "$salvo" reconcile "$work/job-local.json" --json --set "reporting.endpoint=${url%/api/v1/email}/v1" \
    --set reporting.user=ops --set reporting.grace_seconds=0 >"$work/rec.json" 2>&1 || true
  # (This emulator was restarted after the first run: it knows only the 1.)
  grep -q "\"ledger_accepted\":$((n + 1)),\"platform_processed\":1," "$work/rec.json" ||
    fail "$(cat "$work/rec.json")"
  # And --restart starts over from the list as it is.
  "$salvo" send "$work/job-local.json" --progress=none --restart >"$work/send.out" 2>&1 ||
    { cat "$work/send.out"; fail "--restart failed"; }
  [[ $(lines_with '"status":"accepted"' "$work/results-local.ndjson") == $((n + 1)) ]] || fail "restart: not all sent"
  ;;
usage)
  start_emulator
  SOCKETLABS_MARKETING_API_KEY= "$salvo" lists ls --set server_id=1 2>"$work/err" && fail "ran without a key"
  grep -q 'SOCKETLABS_MARKETING_API_KEY' "$work/err" || fail "the error does not name the variable"
  "$salvo" lists ls 2>"$work/err" && fail "ran without a ServerId"
  grep -q 'server_id' "$work/err" || fail "$(cat "$work/err")"
  "$salvo" lists push "$work/none.csv" --list 1 --set server_id=1 2>"$work/err" && fail "pushed a missing file"
  grep -q 'none.csv' "$work/err" || fail "$(cat "$work/err")"
  echo "name" >"$work/noemail.csv"; echo "x" >>"$work/noemail.csv"
  "$salvo" lists push "$work/noemail.csv" --list 1 --set server_id=1 2>"$work/err" && fail "pushed without an email column"
  grep -q -- '--email-column' "$work/err" || fail "$(cat "$work/err")"
  "$salvo" lists export abc --set server_id=1 2>"$work/err" && fail "took a bad list id"
  "$salvo" reconcile /dev/null 2>/dev/null && fail "reconciled a non-job"
  SOCKETLABS_MARKETING_API_KEY=wrong "$salvo" emulate --listen 127.0.0.1:0 --marketing-api-key-env MKEY_UNSET \
    2>"$work/err" && fail "the emulator started with an unset key variable"
  true
  ;;
*) fail "unknown scenario $scenario" ;;
esac
echo "ok: $scenario"
