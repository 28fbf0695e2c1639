# Every dependency comes from a Debian 12 package. A missing one stops
# configure with the name of the package that provides it.

function(salvo_require found_var what debian_package)
  if(NOT ${found_var})
    message(FATAL_ERROR
      "salvo needs ${what}, which was not found.\n"
      "Install it with:  sudo apt-get install ${debian_package}\n"
      "(or run ./setup.sh, which installs everything salvo needs)")
  endif()
endfunction()

# A library whose Debian package has no CMake file: finds HEADER and
# LIBRARY, stops as salvo_require does when either is missing, and makes the
# imported TARGET (which the installed salvoConfig.cmake makes again).
function(salvo_require_library target header library what debian_package)
  string(MAKE_C_IDENTIFIER "${library}" id)
  string(TOUPPER "${id}" id)
  find_path(SALVO_${id}_INCLUDE_DIR ${header})
  find_library(SALVO_${id}_LIBRARY ${library})
  set(found FALSE)
  if(SALVO_${id}_INCLUDE_DIR AND SALVO_${id}_LIBRARY)
    set(found TRUE)
  endif()
  salvo_require(found "${what}" ${debian_package})
  if(NOT TARGET ${target})
    add_library(${target} UNKNOWN IMPORTED)
    set_target_properties(${target} PROPERTIES
      IMPORTED_LOCATION "${SALVO_${id}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${SALVO_${id}_INCLUDE_DIR}")
  endif()
endfunction()

# Boost 1.81 only: Debian also carries 1.74 runtime libraries, and
# libboost-dev (1.74) conflicts with libboost1.81-dev.
find_package(Boost 1.81.0 EXACT CONFIG QUIET)
salvo_require(Boost_FOUND "Boost 1.81 (Asio, Beast, System; header-only)" libboost1.81-dev)
# Boost.JSON (where a job file's syntax error is) and Boost.URL (endpoints,
# --listen addresses): compiled libraries.
find_package(boost_json 1.81.0 EXACT CONFIG QUIET)
salvo_require(boost_json_FOUND "Boost.JSON 1.81" libboost-json1.81-dev)
find_package(boost_url 1.81.0 EXACT CONFIG QUIET)
salvo_require(boost_url_FOUND "Boost.URL 1.81" libboost-url1.81-dev)

find_package(CURL 7.88 QUIET)
salvo_require(CURL_FOUND "libcurl >= 7.88" libcurl4-openssl-dev)

find_package(OpenSSL 3.0 QUIET)
salvo_require(OPENSSL_FOUND "OpenSSL >= 3.0" libssl-dev)

find_package(ZLIB QUIET)
salvo_require(ZLIB_FOUND "zlib" zlib1g-dev)

# A recipients file's identity is its CRC-32, taken before anything is sent
# (engine/src/file_crc.cpp): libdeflate's, which uses the CPU's carry-less
# multiply. libdeflate 1.14 ships no CMake file.
salvo_require_library(libdeflate::libdeflate libdeflate.h deflate "libdeflate" libdeflate-dev)

find_package(TBB 2021.8 CONFIG QUIET)
salvo_require(TBB_FOUND "oneTBB >= 2021.8" libtbb-dev)

find_package(simdjson 3.0 CONFIG QUIET)
salvo_require(simdjson_FOUND "simdjson >= 3.0" libsimdjson-dev)

find_package(fmt 9 CONFIG QUIET)
salvo_require(fmt_FOUND "fmt >= 9" libfmt-dev)

find_package(CLI11 2.1 CONFIG QUIET)
salvo_require(CLI11_FOUND "CLI11 >= 2.1" libcli11-dev)

# The event store's embedded database (store/, salvo listen).
find_package(SQLite3 3.40 QUIET)
salvo_require(SQLite3_FOUND "SQLite >= 3.40" libsqlite3-dev)
# The event store's server database (salvo listen replicas): libpq.
find_package(PostgreSQL 15 QUIET)
salvo_require(PostgreSQL_FOUND "libpq >= 15" libpq-dev)

# The shared quota's Redis client (quota/): hiredis 0.14, whose CMake file
# sets variables only.
salvo_require_library(hiredis::hiredis hiredis/async.h hiredis
  "hiredis (the Redis client library)" libhiredis-dev)

# The stable hash shards are cut by (engine/src/address_set.cpp, header-only).
find_path(XXHASH_INCLUDE_DIR xxhash.h)
salvo_require(XXHASH_INCLUDE_DIR "xxHash >= 0.8 (xxhash.h)" libxxhash-dev)

find_package(Threads REQUIRED)

if(SALVO_BUILD_TESTS)
  find_package(GTest 1.12 CONFIG QUIET)
  salvo_require(GTest_FOUND "GoogleTest >= 1.12" libgtest-dev)
  include(GoogleTest)
endif()

if(SALVO_BUILD_BENCH)
  find_package(benchmark 1.7 CONFIG QUIET)
  salvo_require(benchmark_FOUND "Google Benchmark >= 1.7" libbenchmark-dev)
endif()
