#!/usr/bin/env bash
# bench/inbound/run.sh: how many parsed 20 KB Inbound API messages a second
# `salvo listen` classifies and stores durably (answered 200 only after the
# commit), and how many one-click unsubscribe POSTs a second it verifies and
# records, under wrk on loopback (inbound.lua, one_click.lua). Not a test:
# run it on an idle machine.
#
#   bench/inbound/run.sh [--salvo PATH] [--seconds S (10)] [--connections N (32)]
#                        [--threads T (2)]
# Needs wrk and sqlite3 (./setup.sh bench-deps).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
salvo=$root/build/release/cli/salvo
seconds=10 connections=32 threads=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --salvo) salvo=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
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
export SALVO_BENCH_UNSUB=bench-unsubscribe-secret SALVO_BENCH_TOKENS=$work/tokens.txt
# Valid tokens (platform/unsubscribe_token.hpp's layout), one address each.
python3 - "$SALVO_BENCH_UNSUB" "$SALVO_BENCH_TOKENS" <<'PY'
import base64, hashlib, hmac, sys
secret, out = sys.argv[1].encode(), open(sys.argv[2], "w")
for i in range(400000):
    payload = b"\x01\x00\x00\x00\x00" + bytes([5]) + b"bench" + f"user{i}@example.com".encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    out.write(base64.urlsafe_b64encode(payload + mac).decode().rstrip("=") + "\n")
PY
"$salvo" listen --listen 127.0.0.1:0 --db "$work/events.sqlite" --threads "$threads" \
  --unsubscribe-secret-env SALVO_BENCH_UNSUB >"$work/listen.out" 2>"$work/listen.err" &
pid=$!
for _ in $(seq 200); do [[ -s $work/listen.out ]] && break; sleep 0.05; done
url=$(head -n1 "$work/listen.out")
[[ $url == http* ]] || { echo "run.sh: salvo listen did not start:" >&2; cat "$work/listen.err" >&2; exit 1; }

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
phase() {  # phase NAME SCRIPT SQL
  local rss0 cpu0 rss1 cpu1
  rss0=$(rss); cpu0=$(cpu)
  wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$here/$2" "$url" >"$work/$1.out"
  rss1=$(rss); cpu1=$(cpu)
  python3 - "$1" "$(awk '/requests in/ {print $1}' "$work/$1.out")" \
    "$(sqlite3 "$work/events.sqlite" "$3")" "$seconds" \
    "$(awk '/^p50_ms/ {print $2}' "$work/$1.out")" "$(awk '/^p99_ms/ {print $2}' "$work/$1.out")" \
    "$(awk '/^non2xx/ {print $2}' "$work/$1.out")" "$rss0" "$rss1" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" <<'PY'
import sys
name, req, stored, secs, p50, p99, non2xx, rss0, rss1, cpu0, cpu1, tick = sys.argv[1:]
req, stored, secs = int(req), int(stored), float(secs)
cpu = (int(cpu1) - int(cpu0)) / int(tick)
print(f"{name}: {req} posts answered in {secs:.0f} s: {req / secs:,.0f}/s; {stored} stored; non-2xx {non2xx}")
print(f"{name}: latency p50 {float(p50):.2f} ms, p99 {float(p99):.2f} ms; {cpu:.2f} s CPU ({cpu / secs:.2f} cores), RSS {int(rss0) / 1024:.1f} -> {int(rss1) / 1024:.1f} MiB")
PY
}
phase inbound inbound.lua "select count(*) from inbound_messages"
phase one-click one_click.lua "select count(*) from suppressions where source = 'one-click'"
