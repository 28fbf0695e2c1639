#!/usr/bin/env bash
# bench/events/status.sh: how long `salvo status` takes on a big campaign.
# Writes, in a temp dir, a campaign's results file of ROWS accepted rows and
# an event database holding, per row, a Queued and a Delivered event and an
# open (3 events a row; every 50th row a hard bounce instead of Delivered),
# then times `salvo status --json` and `salvo status --rows` on it and prints
# the wall time, the peak RSS and the funnel.
#
# The database is made by salvo itself (`salvo suppressions add` creates it
# with the current schema) and filled with python3's sqlite3 module, since
# posting 3 M events through `salvo listen` would measure the receiver, not
# status (bench/events/run.sh does that).
#
# Usage: bench/events/status.sh [--salvo PATH] [--rows N (1000000)] [--keep]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
salvo=$root/build/release/cli/salvo
rows=1000000
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --salvo) salvo=${2:?--salvo needs a path}; shift 2 ;;
        --rows) rows=${2:?--rows needs a number}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "status.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $rows =~ ^[1-9][0-9]*$ ]] || { echo "status.sh: --rows wants a positive number" >&2; exit 2; }
[ -x "$salvo" ] || { echo "status.sh: no salvo at $salvo (./setup.sh build, or --salvo PATH)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "status.sh: needs python3" >&2; exit 2; }

tmp=$(mktemp -d)
if [ "$keep" = 1 ]; then echo "status.sh: keeping $tmp" >&2; else trap 'rm -rf "$tmp"' EXIT; fi

cat >"$tmp/job.json" <<'EOF'
{"endpoint": "http://127.0.0.1:9/api/v1/email", "server_id": "12345",
 "recipients": "recipients.csv", "results": "results.ndjson",
 "suppression": {"db": "events.sqlite"},
 "message": {"from": {"email": "news@example.com"}, "subject": "Hi",
             "text": "Hello", "mailing_id": "bench-status"}}
EOF
"$salvo" suppressions add --db "$tmp/events.sqlite" seed@example.com >/dev/null
"$salvo" suppressions remove --db "$tmp/events.sqlite" seed@example.com >/dev/null

echo "status.sh: writing $rows rows and $((rows * 3)) events" >&2
python3 - "$tmp" "$rows" <<'EOF'
import sqlite3, sys, json
d, rows = sys.argv[1], int(sys.argv[2])
with open(f"{d}/results.ndjson", "w") as out:
    for i in range(rows):
        email = f"user{i}@mail{i % 1000}.example.com"
        out.write(json.dumps({"row": i + 1, "line": i + 2, "email": email, "status": "accepted",
                              "attempts": 1, "message_id": f"bench-status-{email}"},
                             separators=(",", ":")) + "\n")
db = sqlite3.connect(f"{d}/events.sqlite")
db.execute("PRAGMA synchronous=OFF")
# kind / state numbers as platform::event_type and platform::delivery_state
# number them (platform/include/salvo/platform/event.hpp).
def events():
    t0 = 1764300000000
    for i in range(rows):
        email = f"user{i}@mail{i % 1000}.example.com"
        mid = f"bench-status-{email}"
        yield ("Queued", 0, 1, mid, email, None, t0 + i)
        if i % 50 == 0:
            yield ("Failed", 3, 5, mid, email, None, t0 + i + 1)
        else:
            yield ("Delivered", 2, 4, mid, email, None, t0 + i + 1)
        yield ("Tracking", 4, 0, mid, email, 1, t0 + i + 2)
db.executemany(
    "INSERT INTO events (type, kind, state, date_time, occurred_at, received_at, server_id, "
    "mailing_id, message_id, address, address_key, tracking_type, identity, raw) "
    "VALUES (?1, ?2, ?3, 'x', ?7, ?7, '12345', 'bench-status', ?4, ?5, ?5, ?6, ?1 || ?7, '{}')",
    events())
db.commit()
EOF

measure() { # LABEL ARGS...
    local label=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$tmp/rss" "$salvo" status "$tmp/job.json" "$@" >"$tmp/out.$label"
    t1=$(date +%s.%N)
    printf '%-14s %6.2f s  peak RSS %6.1f MiB\n' "$label" "$(echo "$t1 - $t0" | bc)" \
        "$(echo "$(cat "$tmp/rss") / 1024" | bc -l)"
}
echo "salvo status on $rows rows, $((rows * 3)) events ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)):"
measure json --json
measure rows --json --rows "$tmp/rows.ndjson"
head -c 400 "$tmp/out.json"
echo
