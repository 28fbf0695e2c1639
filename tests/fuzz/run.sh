#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build/fuzz and runs each for
# SECONDS (default 30) from its seed corpus in tests/fuzz/corpus/<target>/.
# Exits non-zero when a target crashes or a sanitizer reports.
#
#   tests/fuzz/run.sh 30
set -euo pipefail
seconds=${1:-30}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build/fuzz

# clang and its runtime (libFuzzer, sanitizers) are needed only here.
need=()
command -v clang++ >/dev/null || need+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" ||
  need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSALVO_BUILD_FUZZ=ON -DSALVO_BUILD_TESTS=OFF -DSALVO_BUILD_BENCH=OFF \
  -DSALVO_BUILD_SAMPLES=OFF \
  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
  >/dev/null
targets=(fuzz_csv fuzz_json fuzz_template fuzz_response fuzz_job fuzz_event fuzz_sibling fuzz_inbound
  fuzz_token)
cmake --build "$build" -j2 --target "${targets[@]}"

status=0
for target in "${targets[@]}"; do
  work=$build/corpus/$target
  mkdir -p "$work" "$build/artifacts"
  echo "== $target: ${seconds}s =="
  # New inputs go to the scratch corpus in build/; the seeds stay as committed.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$build/tests/fuzz/$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$build/artifacts/$target-" \
      "$work" "$here/corpus/$target"; then
    echo "$target: FAILED (crash input in $build/artifacts/)" >&2
    status=1
  fi
done
exit $status
