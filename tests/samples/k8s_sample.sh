#!/usr/bin/env bash
# samples/k8s/ run locally: k8s_manifests.py parses the manifests (PyYAML)
# and checks that they fit together; then the Job's exact container command
# runs once per index, N processes at once, each with JOB_COMPLETION_INDEX
# set as Kubernetes sets it, against a real `salvo emulate` on 127.0.0.1.
# The mounts become local folders (the ConfigMap's files, the data volume),
# the API key comes from the environment as the secretKeyRef gives it, and
# the job file's endpoint is pointed at the emulator. `salvo shards report`
# must then find every row decided in exactly one shard.
#   k8s_sample.sh SALVO_BINARY SAMPLE_DIR
set -u
salvo=$(realpath "$1")
sample=$2
source "$(dirname "$0")/../cli/lib.sh"

# ---- THE REDIS STEP (rate.shared, docs/shared-quota.md) --------------------
# The sample's job file takes its quota from Redis (rate.shared): the test
# starts a real redis-server on a free loopback port and points rate.shared at
# it. (redis_step=off runs without it, and then fails if salvo knows the key.)
redis_step=on
# ----------------------------------------------------------------------------

command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null ||
  fail "python3 with PyYAML (Debian: python3-yaml) is needed; run ./setup.sh deps"
python3 "$(dirname "$0")/k8s_manifests.py" "$sample" "$work/k8s" || fail "the manifests do not fit together"
n=$(cat "$work/k8s/completions")
mapfile -t cmd <"$work/k8s/command"

# The mounts, as local folders.
job_file=$work/k8s/job/job.json
declare -A local_of
while read -r path kind name; do
  [[ -n $path ]] || continue
  local_of[$path]=$work/mnt/$name
  mkdir -p "$work/mnt/$name"
  [[ $kind == configMap ]] && cp "$work/k8s/job/"* "$work/mnt/$name/"
done <"$work/k8s/mounts"
map_path() {  # map_path TEXT: TEXT with each mount path replaced by its folder
  local t=$1 p
  for p in "${!local_of[@]}"; do t=${t//$p\//${local_of[$p]}/}; done
  echo "$t"
}
job_local=$(map_path "/job/job.json")
[[ -f $job_local ]] || fail "the command's job file /job/job.json is not in the mounted ConfigMap"

knows_shared=no
"$salvo" help job-file | grep -q 'rate\.shared' && knows_shared=yes
if [[ $redis_step == off && $knows_shared == yes ]]; then
  fail "salvo now knows rate.shared: turn the Redis step on (redis_step=on in $0)"
fi

start_emulator
# The job file as the pods read it, with the mounts mapped, the endpoint
# pointed at the emulator and (Redis step) the quota at a local Redis.
redis_url=
if [[ $redis_step == on ]]; then
  command -v redis-server >/dev/null || fail "redis-server is needed; run ./setup.sh deps"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
  redis_pid=$!
  trap 'kill $redis_pid 2>/dev/null; cleanup' EXIT
  for _ in $(seq 250); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.02; done
  redis-cli -p "$port" ping >/dev/null 2>&1 || fail "redis-server did not start: $(cat "$work/redis.log")"
  redis_url=redis://127.0.0.1:$port/0
fi
python3 - "$job_local" "$url" "$redis_step" "$redis_url" "$(declare -p local_of)" <<'PY' || fail "cannot rewrite the job file"
import json, sys, re
path, url, step, redis_url, mounts = sys.argv[1:6]
local_of = dict(re.findall(r'\[([^]]+)\]="([^"]*)"', mounts))
job = json.load(open(path))
def mapped(v):
    if isinstance(v, str):
        for p, l in local_of.items():
            if v.startswith(p + "/"):
                return l + v[len(p):]
        return v
    if isinstance(v, dict):
        return {k: mapped(x) for k, x in v.items()}
    if isinstance(v, list):
        return [mapped(x) for x in v]
    return v
job = mapped(job)
job["endpoint"] = url
if step == "on":
    job["rate"]["shared"]["redis"] = redis_url
else:
    job.get("rate", {}).pop("shared", None)
    if "rate" in job and not job["rate"]:
        del job["rate"]
json.dump(job, open(path, "w"), indent=2)
PY
if [[ $redis_step == off ]]; then
  echo "NOTE: the Redis step is off: the Indexed Job ran WITHOUT rate.shared (this salvo does not know the key yet)"
fi

# The recipients on the data volume: duplicates (domain case) and bad rows.
recipients=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recipients"])' "$job_local")
rows=2400
{
  echo "email,first_name"
  for ((i = 1; i <= rows; i++)); do
    if ((i % 37 == 0)); then echo "broken-$i,X"
    elif ((i % 23 == 0)); then echo "user$((i - 1))@EXAMPLE.com,Again"
    else echo "user$i@example.com,Name$i"; fi
  done
} >"$recipients"

# The key, as the Secret gives it to each pod.
while read -r var _secret _key; do
  [[ -n $var ]] && export "$var=k8s-sample-test-key"
done <"$work/k8s/env"

# Each index: the exact command, `salvo` being this build, the mount paths
# mapped, JOB_COMPLETION_INDEX set.
args=("$salvo")
for a in "${cmd[@]:1}"; do args+=("$(map_path "$a")"); done
echo "running ${n} pods: ${cmd[*]}"
pids=()
for ((k = 0; k < n; k++)); do
  (cd "$work" && JOB_COMPLETION_INDEX=$k exec "${args[@]}") >"$work/pod.$k.out" 2>"$work/pod.$k.err" &
  pids+=($!)
done
for ((k = 0; k < n; k++)); do
  wait "${pids[$k]}"
  rc=$?
  [[ $rc == 0 ]] || { cat "$work/pod.$k.err"; fail "index $k exit $rc"; }
done
data_dir=$(dirname "$recipients")
for ((k = 0; k < n; k++)); do
  [[ -s $data_dir/results.shard-$k-of-$n.ndjson && -s $data_dir/campaign.shard-$k-of-$n.journal ]] ||
    fail "index $k left no results/journal of its own on the volume: $(ls "$data_dir")"
done

"$salvo" shards report "$job_local" --of "$n" --json >"$work/report.json" 2>"$work/report.err" ||
  { cat "$work/report.json" "$work/report.err"; fail "salvo shards report exit $?"; }
grep -q '"complete":true' "$work/report.json" || fail "report: $(cat "$work/report.json")"
grep -q "\"rows\":$rows," "$work/report.json" || fail "report rows: $(cat "$work/report.json")"
grep -q "\"decided\":$rows," "$work/report.json" || fail "report decided: $(cat "$work/report.json")"
stop_emulator
accepted=$(grep -o '"accepted":[0-9]*' "$work/report.json" | head -n1 | cut -d: -f2)
delivered=$(grep -o '"to":"[^"]*"' "$work/emails.ndjson" | sort -u | wc -l)
recorded=$(wc -l <"$work/emails.ndjson")
[[ $accepted == "$delivered" && $recorded == "$delivered" ]] ||
  fail "$accepted accepted, $delivered addresses delivered in $recorded emails"

# The image cannot be built here (no container runtime), so its runtime
# stage is checked against the binary: every shared library salvo loads
# directly must come from a package that stage installs, or that one of
# those depends on (apt installs it too), or from the base image (libc6,
# libgcc-s1, libstdc++6). The image is a Release build, so a sanitizer
# build (the ASan tier: its own runtimes, and a Debug link that keeps
# libraries Release drops as unused) is not checked; the Release tier is.
dockerfile=$sample/Dockerfile
runtime=$(sed -n '/^FROM debian:bookworm-slim$/,$p' "$dockerfile" | tail -n +2)
if command -v readelf >/dev/null && command -v dpkg-query >/dev/null &&
  ! readelf -d "$salvo" | grep -q 'NEEDED.*libasan'; then
  installs=$(grep -oE '\b(lib[a-z0-9.+-]+|ca-certificates)\b' <<<"$runtime" | sort -u)
  provided=" $(tr '\n' ' ' <<<"$installs")"
  for p in $installs; do
    provided+=" $(dpkg-query -W -f='${Depends}' "$p" 2>/dev/null | tr ',|' '\n\n' |
      sed -e 's/([^)]*)//g' -e 's/:any//g' | awk '{print $1}' | tr '\n' ' ')"
  done
  provided+=" "
  missing=""
  while read -r lib; do
    path=$(ldd "$salvo" | awk -v l="$lib" '$1 == l {print $3}')
    [[ -n $path ]] || continue
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1)
    [[ -n $pkg ]] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1)
    [[ -n $pkg ]] || continue  # not from a Debian package (a local build)
    case $pkg in libc6 | libgcc-s1 | libstdc++6) continue ;; esac
    [[ $provided == *" $pkg "* ]] || missing+=" $pkg ($lib)"
  done < <(readelf -d "$salvo" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [[ -z $missing ]] || fail "samples/k8s/Dockerfile's runtime stage lacks:$missing"
fi
echo "ok: $n indexes, $rows rows, $accepted accepted (Redis step: $redis_step)"
