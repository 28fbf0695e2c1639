#!/usr/bin/env bash
# bench/events/pg_batch_modes.sh: which way of writing a batch of events
# into PostgreSQL is fastest, side by side in one run on one server, with
# pgbench (PostgreSQL's own driver) and salvo's events table and unique key:
#   pipeline   BEGIN, N single-row INSERT … ON CONFLICT DO NOTHING
#              (prepared) sent as one libpq pipeline, COMMIT (what
#              store/src/pg_store.cpp does, less its suppression upsert);
#   multirow   BEGIN, one INSERT … VALUES (…),(…)… ON CONFLICT DO NOTHING
#              of N rows as SQL text, COMMIT;
#   one-by-one BEGIN, N single-row INSERTs each waiting for its answer, COMMIT.
# COPY is not measured: it cannot skip duplicates (no ON CONFLICT), so it
# would need a staging table and an INSERT … SELECT after it, and says
# nothing of which rows were new, which the receiver counts.
#
# Usage: bench/events/pg_batch_modes.sh [--batch N (500)] [--seconds S (10)]
#          [--clients C (2)] [--fsync on|off (on)]
set -euo pipefail
batch=500 seconds=10 clients=2 fsync=on
while [[ $# -gt 0 ]]; do
  case $1 in
    --batch) batch=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --fsync) fsync=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pg_batch_modes.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
pgbin=/usr/lib/postgresql/15/bin
[[ -x $pgbin/pgbench ]] || { echo "pg_batch_modes.sh: PostgreSQL 15 is missing: ./setup.sh deps" >&2; exit 1; }
work=$(mktemp -d)
chmod 755 "$work"
mkdir "$work/pg"
as=()
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$work/pg"; as=(runuser -u postgres --); fi
cleanup() {
  "${as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[[ -n ${KEEP:-} ]] && trap - EXIT && echo "work: $work" >&2
"${as[@]}" "$pgbin/initdb" -D "$work/pg/data" -U salvo --auth=trust -E UTF8 --locale=C >/dev/null
"${as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$work/pg' -c fsync=$fsync" start >/dev/null
export PGHOST=$work/pg PGUSER=salvo
psql -q -d postgres -c "CREATE DATABASE events" >/dev/null
for f in "$root"/store/src/schema/pg/[0-9][0-9][0-9]_*.sql; do psql -q -d events -f "$f" >/dev/null; done

# One event's columns, made unique by pgbench's random draw :k$i.
row() {
  echo "('Delivered',3,4,'2026-01-01T00:00:'||:k$1,1767225600000+:k$1,1,'1','camp','camp-'||:k$1,'u'||:k$1||'@example.com','u'||:k$1||'@example.com',NULL,NULL,NULL,NULL,NULL,'','{\"Type\":\"Delivered\"}')"
}
cols="type,kind,state,date_time,occurred_at,received_at,server_id,mailing_id,message_id,address,address_key,failure_type,failure_code,tracking_type,url,reason,identity,raw"
{
  for ((i = 0; i < batch; i++)); do echo "\\set k$i random(1, 2000000000)"; done
  echo "\\startpipeline"
  echo "BEGIN;"
  for ((i = 0; i < batch; i++)); do echo "INSERT INTO events ($cols) VALUES $(row $i) ON CONFLICT DO NOTHING;"; done
  echo "COMMIT;"
  echo "\\endpipeline"
} >"$work/pipeline.sql"
{
  for ((i = 0; i < batch; i++)); do echo "\\set k$i random(1, 2000000000)"; done
  echo "BEGIN;"
  for ((i = 0; i < batch; i++)); do echo "INSERT INTO events ($cols) VALUES $(row $i) ON CONFLICT DO NOTHING;"; done
  echo "COMMIT;"
} >"$work/one-by-one.sql"
{
  for ((i = 0; i < batch; i++)); do echo "\\set k$i random(1, 2000000000)"; done
  echo "BEGIN;"
  printf 'INSERT INTO events (%s) VALUES ' "$cols"
  for ((i = 0; i < batch; i++)); do printf '%s%s' "$( ((i)) && echo ,)" "$(row $i)"; done
  echo " ON CONFLICT DO NOTHING;"
  echo "COMMIT;"
} >"$work/multirow.sql"

echo "batch of $batch events, $clients clients, ${seconds} s each, fsync=$fsync"
for mode in pipeline multirow one-by-one pipeline multirow one-by-one; do
  # pgbench binds at most 255 parameters a statement: the multi-row
  # INSERT goes as SQL text (simple protocol), the others prepared.
  protocol=prepared
  [[ $mode == multirow ]] && protocol=simple
  tps=$("$pgbin/pgbench" -n -M $protocol -c "$clients" -j "$clients" -T "$seconds" \
    -f "$work/$mode.sql" events 2>&1 | tee "$work/$mode.log" | awk '/^tps/ {print $3}')
  awk -v m="$mode" -v t="$tps" -v b="$batch" \
    'BEGIN { printf "%-11s %8.1f batches/s  %9.0f events/s\n", m, t, t * b }'
done
