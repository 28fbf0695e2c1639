#!/usr/bin/env bash
# Installs the build tree to a temp prefix, builds samples/embed against it
# with find_package(salvo) as a separate CMake project, and runs it against
# the installed `salvo emulate`.
#   embed_sample.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/salvo-embed-XXXXXX")
emu_pid=
cleanup() {
  if [[ -n $emu_pid ]]; then kill -INT "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -x "$work/prefix/bin/salvo"
test -f "$work/prefix/include/salvo/engine/job.hpp"
cmake -S "$source/samples/embed" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log"
cmake --build "$work/build" -j2 >"$work/build.log" || { cat "$work/build.log"; exit 1; }

"$work/prefix/bin/salvo" emulate --listen 127.0.0.1:0 >"$work/emu.out" 2>/dev/null &
emu_pid=$!
url=
for _ in $(seq 100); do
  url=$(head -n1 "$work/emu.out" 2>/dev/null || true)
  [[ $url == http* ]] && break
  sleep 0.05
done
[[ $url == http* ]] || { echo "FAIL: the emulator did not start"; exit 1; }
"$work/build/embed_sample" "$url" "$work" | tee "$work/out"
grep -q '^embed: 4 accepted, 1 other$' "$work/out"
[[ $(wc -l <"$work/embed-results.ndjson") == 5 ]]
echo "ok: embed sample built against the installed package and ran"
