#!/usr/bin/env bash
# salvo's one setup script. It installs what is missing (nothing when all is
# there), builds the Release tree, then does what it is asked:
#
#   ./setup.sh demo      build, then run the demo (`salvo demo`)
#   ./setup.sh test      build, then run every test (CTest)
#   ./setup.sh build     build only
#   ./setup.sh deps      install the Debian packages only
#   ./setup.sh bench-deps  install what the benchmarks need besides (only when
#                        asked): nginx-light for bench/limit/run.sh's sink
#                        (the tests need only nginx, in deps), wrk,
#                        linux-perf, strace
#
# Environment: SALVO_BUILD_DIR (default build/release), SALVO_JOBS (default 2).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${SALVO_BUILD_DIR:-$here/build/release}
jobs=${SALVO_JOBS:-2}

# Debian 12 packages. Never libboost-dev: it is Boost 1.74 and conflicts
# with libboost1.81-dev.
packages=(
  build-essential cmake pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libdeflate-dev
  libtbb-dev libsimdjson-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libfmt-dev libsqlite3-dev libxxhash-dev libpq-dev
  # The shared quota (rate.shared): the Redis client library, and the
  # server its tests start on a unix socket in a temp dir.
  libhiredis-dev redis-server
  wrk
  # For the tests: tests/cli/bad_input.sh makes its largest inputs with
  # python3, tests/cli/security.sh its self-signed certificate with openssl,
  # tests/cli/listen_scenarios.sh reads the emulator's /stats with curl,
  # tests/samples/k8s_sample.sh reads samples/k8s/*.yaml with python3-yaml.
  python3 python3-yaml openssl curl
  # The store's PostgreSQL tests start their own PostgreSQL 15 server
  # (initdb and pg_ctl from /usr/lib/postgresql/15/bin) in a temp dir.
  postgresql
  # libcurl reads the system CA bundle to verify HTTPS servers; a minimal
  # Debian lacks it, and --no-install-recommends would not bring it.
  ca-certificates
  # tests/transport/client_http2_test.cpp and the CLI's HTTP/2 send test run
  # Debian's nginx (HTTP/2 over TLS, its own config on a loopback port; the
  # package's default site is never used). `nginx` is the server alone;
  # nginx-light below adds the echo module the tests do not need.
  nginx
)

# For bench/limit/run.sh and profiling only. Debian's nginx package also
# enables its default site on port 80; run.sh starts its own nginx on a free
# loopback port and does not use it.
bench_packages=(nginx-light wrk linux-perf strace sqlite3)

# Installs those of the given packages that are missing.
install_packages() {
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_deps() { install_packages "${packages[@]}"; }

build() {
  cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DSALVO_WERROR=ON >/dev/null
  cmake --build "$build_dir" -j "$jobs"
}

cmd=${1:-demo}
case "$cmd" in
  deps)  install_deps ;;
  bench-deps) install_packages "${bench_packages[@]}" ;;
  build) install_deps; build ;;
  demo)  install_deps; build; shift || true; "$build_dir/cli/salvo" demo "$@" ;;
  test)  install_deps; build; ctest --test-dir "$build_dir" -j "$jobs" --output-on-failure ;;
  *) echo "usage: ./setup.sh [demo|test|build|deps|bench-deps]" >&2; exit 2 ;;
esac
