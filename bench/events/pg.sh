#!/usr/bin/env bash
# bench/events/pg.sh: `salvo listen` replicas on one PostgreSQL, with
# `salvo emulate --events-url A,B` posting the events of a campaign to them
# in turn, the way a load balancer spreads the platform's posts; optionally
# one replica killed with SIGKILL mid-flood (the emulator retries on the
# survivor). Reports events/s from the first acknowledgement to the last,
# and checks that the database holds every event exactly once.
#
# Starts its own PostgreSQL 15 (initdb/pg_ctl in a temp dir, unix socket
# only, as the `postgres` user when run as root; fsync on, as in
# production, unless --fsync off), the replicas and the emulator on free
# loopback ports, and stops them all at the end.
#
# Usage: bench/events/pg.sh [--salvo PATH] [--rows N (45000: ~100 000 events)]
#          [--replicas N (2)] [--kill] [--connections N (16)] [--fsync on|off]
# Needs PostgreSQL (./setup.sh deps), curl and python3. Not a test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
salvo=$root/build/release/cli/salvo
rows=45000 replicas=2 kill=0 connections=16 fsync=on
while [[ $# -gt 0 ]]; do
  case $1 in
    --salvo) salvo=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --replicas) replicas=$2; shift 2 ;;
    --kill) kill=1; shift ;;
    --connections) connections=$2; shift 2 ;;
    --fsync) fsync=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pg.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
pgbin=/usr/lib/postgresql/15/bin
[[ -x $pgbin/initdb ]] || { echo "pg.sh: PostgreSQL 15 is missing: ./setup.sh deps" >&2; exit 1; }
for tool in curl python3 psql; do
  command -v "$tool" >/dev/null || { echo "pg.sh: $tool is missing: ./setup.sh deps" >&2; exit 1; }
done
[[ -x $salvo ]] || { echo "pg.sh: no salvo at $salvo: ./setup.sh build, or --salvo PATH" >&2; exit 1; }
(( replicas >= 1 )) || { echo "pg.sh: --replicas must be at least 1" >&2; exit 2; }
(( kill == 0 || replicas >= 2 )) || { echo "pg.sh: --kill needs --replicas 2 or more" >&2; exit 2; }

work=$(mktemp -d)
chmod 755 "$work"
mkdir "$work/pg"
as=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$work/pg"
  as=(runuser -u postgres --)
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "${as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"${as[@]}" "$pgbin/initdb" -D "$work/pg/data" -U salvo --auth=trust -E UTF8 --locale=C \
  >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
"${as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$work/pg' -c fsync=$fsync" \
  start >/dev/null || { cat "$work/pg/log" >&2; exit 1; }
db="postgresql://salvo@/events?host=$work/pg"
psql -q "postgresql://salvo@/postgres?host=$work/pg" -c "CREATE DATABASE events" >/dev/null

export SALVO_LISTEN_SECRET_KEY=bench-secret SALVO_LISTEN_VALIDATION_KEY=bench-validation
export SOCKETLABS_API_KEY=bench-key

first_line_url() { # FILE WHAT
  for _ in $(seq 200); do
    local l
    l=$(head -n1 "$1" 2>/dev/null || true)
    [[ $l == http* ]] && { echo "$l"; return 0; }
    sleep 0.05
  done
  echo "pg.sh: $2 did not start:" >&2
  cat "$1" "$1.err" >&2 2>/dev/null || true
  return 1
}

urls=() listen_pids=()
for ((i = 0; i < replicas; i++)); do
  "$salvo" listen --listen 127.0.0.1:0 --db "$db" --inbound-dir "$work/inbound" \
    >"$work/listen$i.out" 2>"$work/listen$i.out.err" &
  pids+=("$!")
  listen_pids+=("$!")
  urls+=("$(first_line_url "$work/listen$i.out" "salvo listen $i")/notifications")
done
events_url=$(IFS=,; echo "${urls[*]}")

"$salvo" emulate --listen 127.0.0.1:0 --events-url "$events_url" \
  --events-secret-env SALVO_LISTEN_SECRET_KEY \
  --events-validation-key-env SALVO_LISTEN_VALIDATION_KEY \
  --hard-bounce-rate 0.05 --complaint-rate 0.01 --open-rate 0.3 --click-rate 0.1 \
  --events-connections "$connections" >"$work/emu.out" 2>"$work/emu.out.err" &
pids+=("$!")
eurl=$(first_line_url "$work/emu.out" "salvo emulate")  # …/api/v1/email
base=${eurl%/api/v1/email}

"$salvo" bench --write-campaign "$work/campaign" --merge server --rows "$rows" \
  --endpoint "$eurl" >/dev/null
"$salvo" send "$work/campaign/job.json" --progress none >"$work/send.out" 2>&1 ||
  { cat "$work/send.out" >&2; echo "pg.sh: the send failed" >&2; exit 1; }

stats() { curl -s "$base/stats"; }
get() { python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', 0))"; }
t_first= t_last= gen=0 ack=0 last_ack=-1 still=0 killed=none
while :; do
  s=$(stats)
  gen=$(echo "$s" | get events_generated)
  ack=$(echo "$s" | get events_acknowledged)
  now=$(date +%s.%N)
  [[ -z $t_first && $ack -gt 0 ]] && t_first=$now
  if [[ $kill == 1 && $killed == none && $ack -ge $((gen / 3)) && $ack -gt 0 ]]; then
    kill -9 "${listen_pids[1]}"
    killed="replica 1 at $ack of $gen acknowledged"
  fi
  if [[ $ack != "$last_ack" ]]; then t_last=$now; last_ack=$ack; still=0; else still=$((still + 1)); fi
  [[ $gen -gt 0 && $ack -ge $gen ]] && break
  if [[ $still -ge 300 ]]; then
    echo "pg.sh: no progress for 30 s ($ack of $gen acknowledged): $(echo "$s" | get events_error)" >&2
    exit 1
  fi
  sleep 0.1
done
stored=$(psql -tA "$db" -c "select count(*) from events")
distinct=$(psql -tA "$db" -c "select count(*) from (select distinct type, message_id, address, date_time, identity, mailing_id from events) d")
python3 - "$rows" "$gen" "$ack" "$stored" "$distinct" "$t_first" "$t_last" "$replicas" \
  "$connections" "$killed" "$fsync" <<'PY'
import sys
rows, gen, ack, stored, distinct = map(int, sys.argv[1:6])
t0, t1 = float(sys.argv[6]), float(sys.argv[7])
replicas, conns, killed, fsync = int(sys.argv[8]), int(sys.argv[9]), sys.argv[10], sys.argv[11]
secs = max(t1 - t0, 1e-9)
print(f"campaign           {rows} rows, {gen} events generated by the emulator ({conns} connections)")
print(f"replicas           {replicas} salvo listen on one PostgreSQL 15 (fsync={fsync}); killed: {killed}")
print(f"acknowledged       {ack} in {secs:.1f} s: {ack / secs:,.0f} events/s (polled every 0.1 s)")
ok = stored == gen and distinct == gen
print(f"stored             {stored} rows, {distinct} distinct ({'every event exactly once' if ok else 'MISMATCH'})")
sys.exit(0 if ok else 1)
PY
