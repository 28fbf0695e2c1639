#!/usr/bin/env bash
# bench/events/run.sh: how many delivery events a second `salvo listen`
# stores durably (each answered 200 only after its transaction commits), the
# answer latency, and its memory, under wrk posting mixed Event Webhooks
# (bench/events/mixed.lua) on loopback. Not a test: run it on an idle machine.
#
#   bench/events/run.sh [--salvo PATH] [--seconds S (10)] [--connections N (32)]
#                       [--threads T (2)] [--sample S]
# --sample S prints, every S seconds while wrk runs, the events stored so far
# (from /metrics) and the RSS: memory must stay flat as the store grows.
# Needs wrk and sqlite3 (./setup.sh bench-deps).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
salvo=$root/build/release/cli/salvo
seconds=10 connections=32 threads=2 sample=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --salvo) salvo=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in wrk sqlite3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing: ./setup.sh bench-deps" >&2; exit 1; }
done
[[ -x $salvo ]] || { echo "run.sh: no salvo at $salvo: ./setup.sh build, or --salvo PATH" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export SALVO_LISTEN_SECRET_KEY=bench-secret SALVO_LISTEN_VALIDATION_KEY=bench-validation
"$salvo" listen --listen 127.0.0.1:0 --db "$work/events.sqlite" --threads "$threads" \
  >"$work/listen.out" 2>"$work/listen.err" &
pid=$!
for _ in $(seq 200); do [[ -s $work/listen.out ]] && break; sleep 0.05; done
url=$(head -n1 "$work/listen.out")
[[ $url == http* ]] || { echo "run.sh: salvo listen did not start:" >&2; cat "$work/listen.err" >&2; exit 1; }

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss0=$(rss); cpu0=$(cpu)
sampler=
if [[ $sample != 0 ]]; then
  (
    start=$(date +%s)
    while sleep "$sample"; do
      n=$(curl -s "$url/metrics" | awk '/^salvo_listen_events_total/ {s += $2} END {print s + 0}')
      printf 'after %5d s: %10d events stored, RSS %6.1f MiB\n' "$(($(date +%s) - start))" "$n" \
        "$(echo "$(rss) / 1024" | bc -l)"
    done
  ) &
  sampler=$!
fi
wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$here/mixed.lua" "$url" >"$work/wrk.out"
[[ -n $sampler ]] && { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; }
rss1=$(rss); cpu1=$(cpu)
stored=$(sqlite3 "$work/events.sqlite" "select count(*) from events")
req=$(awk '/requests in/ {print $1}' "$work/wrk.out")
p50=$(awk '/^p50_ms/ {print $2}' "$work/wrk.out")
p99=$(awk '/^p99_ms/ {print $2}' "$work/wrk.out")
non2xx=$(awk '/^non2xx/ {print $2}' "$work/wrk.out")
tick=$(getconf CLK_TCK)
python3 - "$req" "$stored" "$seconds" "$p50" "$p99" "$non2xx" "$rss0" "$rss1" "$cpu0" "$cpu1" "$tick" <<'PY'
import sys
req, stored, secs, p50, p99, non2xx, rss0, rss1, cpu0, cpu1, tick = sys.argv[1:]
req, stored, secs = int(req), int(stored), float(secs)
cpu = (int(cpu1) - int(cpu0)) / int(tick)
print(f"posts answered     {req} in {secs:.0f} s: {req / secs:,.0f} events/s")
# A post still in flight when wrk stops is stored, but not counted by wrk.
check = "every answered post" if stored >= req else "MISSING POSTS"
print(f"events stored      {stored} ({check}; {stored - req} more were in flight at the end); non-2xx {non2xx}")
print(f"answer latency     p50 {float(p50):.2f} ms, p99 {float(p99):.2f} ms")
print(f"salvo listen       {cpu:.2f} s CPU ({cpu / secs:.2f} cores), RSS {int(rss0) / 1024:.1f} -> {int(rss1) / 1024:.1f} MiB")
PY
