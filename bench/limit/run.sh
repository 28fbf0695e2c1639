#!/usr/bin/env bash
# bench/limit/run.sh: salvo side by side with the transport limit, in one run
# (issue 13). Starts an nginx discard sink on 127.0.0.1 (nginx.conf.in),
# writes the reference requests with `salvo preview --request` of the bench
# campaign, then runs against that sink, one after another:
#
#   wrk           wrk -t1 -cN posting the local-mode request (10 messages,
#                 byte for byte the first request salvo send makes)
#   bare          salvo_limit_client (bare_client.c): one-thread libcurl
#                 multi, N handles, CURLOPT_POSTFIELDS, the same request
#   wrk-server    wrk with a server-mode request (one merge message of the
#   bare-server   500 rows a server-mode request holds), and the bare client
#   bench-local   salvo bench --merge local --endpoint SINK --seconds S
#   bench-server  salvo bench --merge server --endpoint SINK --seconds S
#   send-local    salvo send of a generated CSV campaign (journal and results
#   send-server   on, as a user gets them), merge local, then server
#
# and, only when named in --only, over TLS (self-signed, tls.ca_file):
#   send-h1       salvo send --merge local to a TLS port that speaks HTTP/1.1
#   send-h2       the same to a TLS port that offers HTTP/2 (ALPN h2)
#
# and prints one table and one JSON object: requests/s, emails (or rows)/s,
# CPU per request, and the ratios to the bare client and to wrk. A send's
# rate is over the run salvo reports (from its first request to its last
# fate); each round's line also gives it over the whole process, from exec
# to exit (reading the job, the recipients file's identity, the exit). The wrk,
# bare and bench runs last --seconds each; the send runs, their rows. salvo
# runs with max_in_flight = --connections. Everything it makes lives in one
# temp dir, removed on exit (Ctrl-C too).
#
# Usage: bench/limit/run.sh [--salvo PATH] [--seconds S (8)] [--connections N (32)]
#          [--rows-local N (300000)] [--rows-server N (2000000)]
#          [--html-bytes N --text-bytes N (the newsletter's: a ~41 KB local-mode
#           request; 9000 and 3000 make it ~124 KB)]
#          [--only NAME[,NAME...]] [--rounds N (1)] [--json FILE]
#          [--nginx-workers N (1)] [--client PATH] [--keep]
# --rounds N runs the whole list N times, one round after another, each
# send from a fresh journal, and reports each run's median over the rounds
# (ratios taken within each round, against that round's references) with
# every round's figures: this machine's speed drifts by 10-20 % between
# minutes, so one round can mislead.
# Needs nginx, wrk, python3 and a salvo build: ./setup.sh bench-deps && ./setup.sh build
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

salvo=$root/build/release/cli/salvo
client=""
seconds=8
connections=32
rows_local=300000
shape=()  # salvo bench's template sizes, local mode only
rows_server=2000000
only=""
rounds=1
json_file=""
nginx_workers=1
keep=0
all_runs=(wrk bare wrk-server bare-server bench-local bench-server send-local send-server)
tls_runs=(send-h1 send-h2)
# A server-mode request of the bench's default shape holds 10 merge messages
# of 50 rows; `salvo preview --request` writes one merge message, so the
# server-mode reference request is one message of all 500 rows.
server_request_rows=500

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
    case "$1" in
        --salvo) salvo=${2:?--salvo needs a path}; shift 2 ;;
        --client) client=${2:?--client needs a path}; shift 2 ;;
        --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
        --connections) connections=${2:?--connections needs a number}; shift 2 ;;
        --rows-local) rows_local=${2:?--rows-local needs a number}; shift 2 ;;
        --rows-server) rows_server=${2:?--rows-server needs a number}; shift 2 ;;
        --html-bytes) shape+=(--html-bytes "${2:?--html-bytes needs a number}"); shift 2 ;;
        --text-bytes) shape+=(--text-bytes "${2:?--text-bytes needs a number}"); shift 2 ;;
        --only) only=${2:?--only needs a list of runs}; shift 2 ;;
        --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
        --json) json_file=${2:?--json needs a file}; shift 2 ;;
        --nginx-workers) nginx_workers=${2:?--nginx-workers needs a number}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) usage 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage 2 ;;
    esac
done

for pair in "--connections=$connections" "--rows-local=$rows_local" "--rows-server=$rows_server" \
    "--nginx-workers=$nginx_workers" "--rounds=$rounds"; do
    [[ ${pair#*=} =~ ^[1-9][0-9]*$ ]] || die "${pair%%=*}: expected a positive whole number, got '${pair#*=}'"
done
if ! [[ $seconds =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ $seconds =~ ^0+([.]0+)?$ ]]; then
    die "--seconds: expected a positive number, got '$seconds'"
fi

runs=()
if [ -z "$only" ]; then
    runs=("${all_runs[@]}")
else
    IFS=, read -ra runs <<<"$only"
    for r in "${runs[@]}"; do
        [[ " ${all_runs[*]} ${tls_runs[*]} " == *" $r "* ]] ||
            die "--only: unknown run '$r' (runs: ${all_runs[*]} ${tls_runs[*]})"
    done
fi
wants() { [[ " ${runs[*]} " == *" $1 "* ]]; }

# ---- what it needs ------------------------------------------------------------

need_hint="install the benchmark tools with ./setup.sh bench-deps"
nginx_bin=$(command -v nginx || true)
# Debian puts nginx in /usr/sbin, which is not on a user's PATH.
if [ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ]; then nginx_bin=/usr/sbin/nginx; fi
[ -n "$nginx_bin" ] || die "nginx not found (Debian package nginx-light): $need_hint"
if wants wrk || wants wrk-server; then
    command -v wrk >/dev/null || die "wrk not found (Debian package wrk): $need_hint"
fi
command -v python3 >/dev/null || die "python3 not found (it reads the results): ./setup.sh deps"
[ -x "$salvo" ] || die "no salvo binary at $salvo: build it with ./setup.sh build, or pass --salvo PATH"
salvo=$(cd "$(dirname "$salvo")" && pwd)/$(basename "$salvo")

# The API key of every salvo run: a dummy, so that no real key ever goes to
# the sink (and the preview's request carries the same key as the real runs).
export SOCKETLABS_API_KEY=bench-key

tmp=$(mktemp -d "${TMPDIR:-/tmp}/salvo-limit.XXXXXX")
nginx_pid=""
sampler_pid=""
child_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    for p in "$sampler_pid" "$child_pid" "$nginx_pid"; do
        [ -n "$p" ] || continue
        kill -TERM "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$keep" = 1 ]; then
        note "kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
# Background jobs of a script ignore SIGINT: the trap stops them (cleanup).
trap 'exit 130' INT
trap 'exit 143' TERM

# The bare client: from the build tree beside salvo, or the source tree's
# Release build, else compiled here with cc.
find_client() {
    local c
    for c in "$client" "$(dirname "$salvo")/../bench/limit/salvo_limit_client" \
        "$root/build/release/bench/limit/salvo_limit_client"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return
        fi
    done
    [ -z "$client" ] || die "--client $client: not an executable"
    command -v cc >/dev/null || die "no C compiler to build the bare client: ./setup.sh deps"
    local flags=(-lcurl)
    if command -v curl-config >/dev/null; then
        read -ra flags <<<"$(curl-config --cflags) $(curl-config --libs)"
    fi
    note "building the bare client with cc (no salvo_limit_client in the build tree)"
    cc -O2 -std=c11 -o "$tmp/salvo_limit_client" "$here/bare_client.c" "${flags[@]}" ||
        die "cannot build bench/limit/bare_client.c (libcurl headers: libcurl4-openssl-dev, ./setup.sh deps)"
    echo "$tmp/salvo_limit_client"
}
if wants bare || wants bare-server; then client=$(find_client); fi

# ---- the sink -----------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sink=$tmp/nginx
mkdir -p "$sink"
port=""
h1_port=""
h2_port=""
# The TLS servers of send-h1 and send-h2 (tls.conf, included by nginx.conf).
write_tls_conf() {
    : >"$sink/tls.conf"
    if ! wants send-h1 && ! wants send-h2; then return 0; fi
    if [ ! -s "$sink/cert.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
            -keyout "$sink/key.pem" -out "$sink/cert.pem" 2>"$sink/openssl.err" ||
            die "openssl could not make the sink's certificate: $(cat "$sink/openssl.err")"
    fi
    h1_port=$(free_port)
    h2_port=$(free_port)
    answer_port=$(free_port)
    # Over HTTP/2, `return` answering before the body is read makes
    # libcurl 7.88 fail some streams after their 200 (CURLE_HTTP2_STREAM:
    # it sends DATA on a stream the answer closed), and salvo rightly
    # counts them maybe-delivered. A real API reads the body first: so do
    # both TLS ports, by proxying (request buffering) to the same answer on
    # another loopback port. The extra hop costs nginx, equally for h1 and h2.
    cat >>"$sink/tls.conf" <<EOF_TLS
upstream tls_answer { server 127.0.0.1:$answer_port; keepalive 64; }
server {
    listen 127.0.0.1:$answer_port;
    access_log off;
    location / {
        default_type application/json;
        return 200 '{"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null}';
    }
}
EOF_TLS
    local p proto
    for p in "$h1_port" "$h2_port"; do
        proto=""
        if [ "$p" = "$h2_port" ]; then proto=" http2"; fi
        cat >>"$sink/tls.conf" <<EOF_TLS
server {
    listen 127.0.0.1:$p ssl$proto backlog=4096;
    ssl_certificate $sink/cert.pem;
    ssl_certificate_key $sink/key.pem;
    http2_max_concurrent_streams 1024;
    client_body_buffer_size 64k;
    location / {
        proxy_pass http://tls_answer;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
}
EOF_TLS
    done
}
start_sink() {
    local attempt tries m
    local -a drop=()
    # Temp-path directives of modules this nginx was built without would be
    # unknown directives: drop their lines.
    for m in proxy fastcgi uwsgi scgi; do
        if "$nginx_bin" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
            drop+=(-e "/^ *${m}_temp_path/d")
        fi
    done
    for attempt in 1 2 3; do
        port=$(free_port)
        write_tls_conf
        sed -e "s#@DIR@#$sink#g" -e "s#@PORT@#$port#g" -e "s#@WORKERS@#$nginx_workers#g" \
            "${drop[@]}" "$here/nginx.conf.in" >"$sink/nginx.conf"
        "$nginx_bin" -p "$sink" -c "$sink/nginx.conf" -e "$sink/error.log" \
            >"$sink/stdout" 2>&1 &
        nginx_pid=$!
        for tries in $(seq 50); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
            kill -0 "$nginx_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=""
        # Someone took the port between free_port and nginx's bind: try another.
        grep -q "Address already in use" "$sink/error.log" "$sink/stdout" 2>/dev/null || break
        note "port $port was taken, trying another (attempt $attempt)"
    done
    cat "$sink/stdout" "$sink/error.log" >&2 2>/dev/null || true
    die "nginx ($nginx_bin) did not start (gave up after $tries checks); its log is above"
}
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_sink
url=http://127.0.0.1:$port/api/v1/email
note "nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), $nginx_workers worker(s), on $url"

# ---- the campaigns and the reference requests ---------------------------------

# One campaign per merge mode, written by `salvo bench --write-campaign`
# (the bench's newsletter templates and generated rows, as a CSV file), with
# the results file and journal at their defaults beside job.json.
write_campaign() { # DIR MERGE ROWS
    local sizes=()
    if [ "$2" = local ]; then sizes=("${shape[@]}"); fi
    "$salvo" bench --write-campaign "$1" --merge "$2" --rows "$3" "${sizes[@]}" \
        --max-in-flight "$connections" --endpoint "$url" >/dev/null ||
        die "salvo bench --write-campaign failed (is $salvo older than this script?)"
}
local_rows=10
server_rows=0
if wants send-local; then local_rows=$rows_local; fi
if wants send-server; then
    server_rows=$rows_server
elif wants wrk-server || wants bare-server; then
    server_rows=$server_request_rows
fi
note "writing the campaigns ($local_rows rows local, $server_rows rows server)"
write_campaign "$tmp/campaign-local" local "$local_rows"
if [ "$server_rows" != 0 ]; then write_campaign "$tmp/campaign-server" server "$server_rows"; fi
# send-h1 and send-h2 each need their own (a finished journal would resume).
for r in "${tls_runs[@]}"; do
    if wants "$r"; then write_campaign "$tmp/campaign-$r" local "$rows_local"; fi
done
sync

# The reference requests, as `salvo preview --request` prints them, with the
# redacted key put back to the dummy one: in local mode that is byte for
# byte the first request `salvo send` makes.
write_request() { # MERGE ROWS FILE
    "$salvo" preview "$tmp/campaign-$1/job.json" --request --rows "$2" \
        >"$tmp/preview-$1.out" 2>"$tmp/preview-$1.err" ||
        { cat "$tmp/preview-$1.err" >&2; die "salvo preview --request failed"; }
    grep '^{' "$tmp/preview-$1.out" | head -n 1 | tr -d '\n' |
        sed 's/"ApiKey":"\*\*\*\*"/"ApiKey":"bench-key"/' >"$3"
    [ -s "$3" ] || die "salvo preview --request printed no request body (see $tmp/preview-$1.out)"
    note "$1-mode request: $(wc -c <"$3") bytes, $2 rows"
}
body=$tmp/request-local.json
body_server=$tmp/request-server.json
write_request local 10 "$body"
if wants wrk-server || wants bare-server; then
    write_request server "$server_request_rows" "$body_server"
fi

# ---- the runs -------------------------------------------------------------------

# CPU seconds (user sys) of this shell's waited-for children, from the
# second line of `times` (which must run in this shell, not in $(...)).
children_cpu() { # FILE written by `times`
    awk 'NR == 2 { n = split($0, f, /[ms ]+/); printf "%.3f %.3f\n", f[1] * 60 + f[2], f[3] * 60 + f[4] }' "$1"
}

# Rewrites FILE with "utime stime" (clock ticks) of PID's salvo-net thread
# every 0.1 s, while PID lives. The thread ends shortly before the process
# does: what it spends after the last sample (idle by then) is not counted.
sample_net_cpu() { # PID FILE
    local pid=$1 file=$2 tid="" t name line
    local -a f
    while kill -0 "$pid" 2>/dev/null; do
        if [ -z "$tid" ]; then
            for t in /proc/"$pid"/task/*; do
                read -r name 2>/dev/null <"$t/comm" || continue
                if [ "$name" = salvo-net ]; then tid=${t##*/}; fi
            done
        fi
        if [ -n "$tid" ] && read -r line 2>/dev/null <"/proc/$pid/task/$tid/stat"; then
            read -ra f <<<"${line##*) }"
            echo "${f[11]} ${f[12]}" >"$file.new" && mv "$file.new" "$file"
        fi
        sleep 0.1
    done
}

log_offset() { stat -c %s "$sink/access.log" 2>/dev/null || echo 0; }

# CPU clock ticks (user + sys) the nginx workers have used so far.
sink_ticks() {
    local w line total=0
    local -a f
    for w in $(pgrep -P "$nginx_pid"); do
        read -r line 2>/dev/null <"/proc/$w/stat" || continue
        read -ra f <<<"${line##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# run NAME KIND LABEL MERGE ROWS_PER_REQUEST COMMAND...: runs COMMAND with its
# output in $tmp/runs/ROUND/NAME, records its CPU, exit status and the sink's log
# lines. ROWS_PER_REQUEST: the emails (rows) in each request wrk and the bare
# client send (the local or server request, by MERGE); 0 for salvo, which
# reports its own.
run() {
    local name=$1 kind=$2 label=$3 merge=$4 per_request=$5
    shift 5
    local out=$tmp/runs/$round/$name offset sink0 rc=0 body_bytes=0
    mkdir -p "$out"
    if [ "$per_request" != 0 ]; then
        if [ "$merge" = local ]; then body_bytes=$(wc -c <"$body"); else body_bytes=$(wc -c <"$body_server"); fi
    fi
    printf '{"name":"%s","kind":"%s","label":"%s","merge":"%s","rows_per_request":%s,"body_bytes":%s}\n' \
        "$name" "$kind" "$label" "$merge" "$per_request" "$body_bytes" >"$out/meta.json"
    if [ "$rounds" -gt 1 ]; then note "round $round of $rounds, $name: $label"; else note "$name: $label"; fi
    offset=$(log_offset)
    sink0=$(sink_ticks)
    times >"$out/times0"
    date +%s.%N >"$out/wall"
    "$@" >"$out/stdout" 2>"$out/stderr" &
    child_pid=$!
    if [ "$kind" = send ]; then
        sample_net_cpu "$child_pid" "$out/net_ticks" &
        sampler_pid=$!
    fi
    wait "$child_pid" || rc=$?
    child_pid=""
    date +%s.%N >>"$out/wall"
    times >"$out/times1"
    echo "$sink0 $(sink_ticks)" >"$out/sink_ticks"
    if [ -n "$sampler_pid" ]; then
        wait "$sampler_pid" || true
        sampler_pid=""
    fi
    echo "$(children_cpu "$out/times0") $(children_cpu "$out/times1")" |
        awk '{ printf "%.3f %.3f\n", $3 - $1, $4 - $2 }' >"$out/cpu"
    echo "$rc" >"$out/rc"
    if [ "$rc" != 0 ]; then
        note "$name exited with status $rc:"
        tail -n 5 "$out/stderr" >&2
    fi
    # The access log is buffered and flushed within 1 s (nginx.conf.in).
    sleep 1.3
    tail -c +"$((offset + 1))" "$sink/access.log" >"$out/sink.log"
}

# A short check that the sink answers the request with 200 (not timed).
if [ -n "$client" ]; then
    "$client" --url "$url" --body "$body" --connections 2 --requests 20 >/dev/null ||
        die "the sink at $url does not answer the request with 200 (see $sink/error.log)"
fi

# A send of a campaign a round has sent already would find its journal
# finished and send nothing: each send starts from none.
fresh_ledger() { # CAMPAIGN_DIR
    rm -f "$1/campaign.journal" "$1/results.ndjson"
}

post_lua=$root/bench/wrk/post.lua
for ((round = 1; round <= rounds; round++)); do
for r in "${runs[@]}"; do
    case "$r" in
        wrk)
            run wrk wrk "wrk -t1 -c$connections" local 10 \
                wrk -t1 -c"$connections" -d"${seconds}s" -s "$post_lua" "$url" -- "$body" ;;
        wrk-server)
            run wrk-server wrk "wrk, server-mode request" server "$server_request_rows" \
                wrk -t1 -c"$connections" -d"${seconds}s" -s "$post_lua" "$url" -- "$body_server" ;;
        bare)
            run bare bare "bare libcurl, $connections handles" local 10 \
                "$client" --url "$url" --body "$body" --connections "$connections" \
                --seconds "$seconds" --json ;;
        bare-server)
            run bare-server bare "bare libcurl, server-mode request" server "$server_request_rows" \
                "$client" --url "$url" --body "$body_server" --connections "$connections" \
                --seconds "$seconds" --json ;;
        bench-local | bench-server)
            mode=${r#bench-}
            sizes=()
            if [ "$mode" = local ]; then sizes=("${shape[@]}"); fi
            run "$r" bench "salvo bench --merge $mode" "$mode" 0 \
                "$salvo" bench --merge "$mode" --endpoint "$url" --seconds "$seconds" \
                --max-in-flight "$connections" "${sizes[@]}" --json ;;
        send-local | send-server)
            mode=${r#send-}
            rows=$rows_local
            if [ "$mode" = server ]; then rows=$rows_server; fi
            fresh_ledger "$tmp/campaign-$mode"
            run "$r" send "salvo send --merge $mode, $rows rows" "$mode" 0 \
                "$salvo" send "$tmp/campaign-$mode/job.json" --progress none \
                --report "$tmp/runs/$round/$r/report.json" ;;
        send-h1 | send-h2)
            tls_port=$h1_port
            if [ "$r" = send-h2 ]; then tls_port=$h2_port; fi
            fresh_ledger "$tmp/campaign-$r"
            run "$r" send "salvo send --merge local over TLS, ${r#send-}, $rows_local rows" local 0 \
                "$salvo" send "$tmp/campaign-$r/job.json" --progress none \
                --endpoint "https://127.0.0.1:$tls_port/api/v1/email" \
                --set "tls.ca_file=$sink/cert.pem" \
                --report "$tmp/runs/$round/$r/report.json" ;;
    esac
done
done

# ---- the report -----------------------------------------------------------------

context=$(printf '{"nproc":%s,"loadavg_start":"%s","loadavg_end":"%s","kernel":"%s","nginx_workers":%s,"connections":%s,"seconds":%s,"rounds":%s,"ledger_fs":"%s","url":"%s"}' \
    "$(nproc)" "$loadavg_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(uname -r)" \
    "$nginx_workers" "$connections" "$seconds" "$rounds" "$(df -T "$tmp" | awk 'NR == 2 { print $2 }')" "$url")
report=(python3 -B "$here/report.py" --runs "$tmp/runs" --rounds "$rounds"
    --order "$(IFS=,; echo "${runs[*]}")" --context "$context")
if [ -n "$json_file" ]; then report+=(--json-file "$json_file"); fi
"${report[@]}"
