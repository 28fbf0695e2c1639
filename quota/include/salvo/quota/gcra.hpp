#pragma once
/// The shared quota's server side: one Lua script, run atomically by Redis
/// (EVALSHA, EVAL when the server does not have it cached), implementing
/// GCRA as redis-cell does, with leases of several tokens at once.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace salvo::quota {

/// The script. KEYS: the emails' TAT, the requests' TAT, the hold key, the
/// rates key.
/// ARGV[1] is the operation, ARGV[2] the time in microseconds since the
/// epoch ("" = the server's TIME, which the engine always uses; tests pass
/// their own), then:
///   lease  T_emails T_requests n_emails n_requests tolerance
///          -> {granted (1/0), wait_us, hold_us}
///   return T_emails T_requests unused_emails unused_requests  -> {1, 0, 0}
///   hold   pause_us                                          -> {0, 0, hold_us}
/// T is the emission interval in microseconds (0: that limit is absent),
/// tolerance the largest span in microseconds the TAT may run ahead of now.
/// A lease takes every limit's tokens or none; `wait_us` says when it would
/// fit. A lease records its T_emails and T_requests in the rates key (for
/// 5 s after the last lease); a lease at other rates while they are there
/// is an error reply `salvo quota: rate mismatch: <T_emails> <T_requests>`. A hold sets the hold
/// key's resume time (never earlier than it is), with a TTL; a lease while it is in the future
/// grants nothing.
[[nodiscard]] std::string_view gcra_script() noexcept;

/// The script's SHA-1 in hex, for EVALSHA.
[[nodiscard]] const std::string& gcra_script_sha1();

/// The four keys for a quota named `key`: `<key>:tat:emails`,
/// `<key>:tat:requests`, `<key>:hold-until`, `<key>:rates`.
[[nodiscard]] std::array<std::string, 4> gcra_keys(std::string_view key);

/// A lease's size: `window` worth of `per_second`, at least `at_least` and
/// at least 1; 0 when the limit is absent (per_second <= 0).
[[nodiscard]] std::uint64_t lease_size(double per_second, std::chrono::milliseconds window,
                                       std::uint64_t at_least) noexcept;

/// The emission interval in microseconds for `per_second` (0 when absent).
[[nodiscard]] double emission_interval_us(double per_second) noexcept;

}  // namespace salvo::quota
