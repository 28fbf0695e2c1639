#!/usr/bin/env bash
# bench/quota/run.sh: N `salvo send` processes sharing one rate.shared quota
# through a real Redis, against one `salvo emulate` (issue 17).
#
# Starts redis-server on a unix socket and `salvo emulate` on 127.0.0.1:0 in
# a temp dir, writes N campaigns (separate job files and inputs, one
# rate.shared.key), starts them together, and samples the emulator's
# /stats `emails` counter every 100 ms. Then prints (report.py):
#
#   aggregate     emails/s over the window [2 s, 2 s + --seconds] after the
#                 start, against the quota (goal: within ±5 %)
#   worst second  the most emails in any one-second window (goal: ≤ 110 %)
#
# With --outage S@T, Redis is stopped T seconds after the start for S
# seconds: it also prints the emails that reached the emulator while Redis
# was down (after a 300 ms grace for requests already on the wire; goal: 0)
# and how long after Redis' return sending resumed (goal: < 2 s).
#
# Usage: bench/quota/run.sh [--salvo PATH] [--processes N (3)]
#          [--rate EMAILS_PER_SECOND (30000)] [--seconds S (20)]
#          [--outage S@T] [--json FILE] [--keep]
# Needs redis-server, python3, curl and a salvo build (./setup.sh deps build).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
salvo=$root/build/release/cli/salvo
processes=3
rate=30000
seconds=20
outage=""
json_file=""
keep=0

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit "${1:-2}"
}
die() {
    echo "run.sh: $*" >&2
    exit 2
}
note() { echo "run.sh: $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
        --salvo) salvo=$2; shift 2 ;;
        --processes) processes=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --outage) outage=$2; shift 2 ;;
        --json) json_file=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage 0 ;;
        *) usage ;;
    esac
done
[ -x "$salvo" ] || die "no salvo at $salvo (./setup.sh build, or --salvo PATH)"
command -v redis-server >/dev/null || die "redis-server is missing: ./setup.sh deps"
command -v curl >/dev/null || die "curl is missing: ./setup.sh deps"

work=$(mktemp -d "${TMPDIR:-/tmp}/salvo-quota-bench-XXXXXX")
pids=()
redis_pid=""
cleanup() {
    # The senders first (they stop cleanly), then the emulator.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; done
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    if [ "$keep" = 1 ]; then note "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

sock=$work/redis.sock
start_redis() {
    redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' \
        --appendonly no --dir "$work" --logfile "$work/redis.log" &
    redis_pid=$!
    for _ in $(seq 1 400); do
        [ -S "$sock" ] && return 0
        sleep 0.01
    done
    die "redis-server did not start (see $work/redis.log)"
}
start_redis

"$salvo" emulate --listen 127.0.0.1:0 >"$work/emu.out" 2>"$work/emu.err" &
pids+=($!)
for _ in $(seq 1 500); do
    url=$(head -n1 "$work/emu.out" 2>/dev/null || true)
    [ -n "$url" ] && break
    sleep 0.01
done
[ -n "$url" ] || die "salvo emulate printed no URL (see $work/emu.err)"
stats=${url%/api/v1/email}/stats

# Rows: enough for every process to send at its share of the rate for the
# whole run and some more (the quota, not the input, must be the limit).
total_seconds=$((seconds + 6))
rows=$(python3 -c "print(int($rate * $total_seconds / $processes * 1.3))")
note "$processes processes, $rows rows each, quota $rate emails/s, ${seconds} s measured"
for i in $(seq 1 "$processes"); do
    d=$work/p$i
    mkdir -p "$d"
    python3 - "$d/recipients.csv" "$rows" "$i" <<'PY'
import sys
path, rows, p = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write("email,first_name\n")
    for r in range(1, rows + 1):
        f.write(f"p{p}.user{r}@example.com,User{r}\n")
PY
    cat >"$d/job.json" <<JSON
{ "endpoint": "$url", "server_id": 4242, "api_key_env": "SALVO_BENCH_KEY",
  "recipients": {"path": "recipients.csv"},
  "message": {"from": {"email": "news@example.com"}, "subject": "Hi %%first_name%%",
              "text": "Hello %%first_name%%"},
  "rate": {"max_in_flight": 16,
           "shared": {"redis": "unix://$sock?db=0", "key": "bench-quota",
                      "emails_per_second": $rate}} }
JSON
done

samples=$work/samples.tsv
: >"$samples"
start=$(date +%s.%N)
for i in $(seq 1 "$processes"); do
    (cd "$work/p$i" && SALVO_BENCH_KEY=bench exec "$salvo" send job.json --progress=none \
        >"$work/p$i/out" 2>"$work/p$i/err") &
    pids+=($!)
done

end=$(python3 -c "print($start + $seconds + 3)")
redis_cmd="redis-server --port 0 --unixsocket $sock --unixsocketperm 700 --save '' --appendonly no --dir $work --logfile $work/redis.log"
echo "$redis_pid" >"$work/redis.pid"
# (Files, not command substitutions: those would run the EXIT trap.)
python3 "$here/sample.py" --stats "$stats" --out "$samples" --start "$start" \
    --until "$end" ${outage:+--outage "$outage"} --redis-pid-file "$work/redis.pid" \
    --redis-cmd "$redis_cmd" --redis-socket "$sock" >"$work/times"
read -r redis_pid <"$work/redis.pid" || true
read -r redis_down redis_up <"$work/times" || true

python3 "$here/report.py" --samples "$samples" --start "$start" --rate "$rate" \
    --seconds "$seconds" --processes "$processes" \
    ${redis_down:+--down "$redis_down"} ${redis_up:+--up "$redis_up"} \
    ${json_file:+--json "$json_file"}
