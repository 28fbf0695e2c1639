#pragma once
/// Counters of the client: written on the network thread, read from any.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace salvo::transport {

/// A copy of the counters at one moment.
struct counters_snapshot {
    std::uint64_t requests = 0;   ///< attempts started (first attempts and retries).
    std::uint64_t completed = 0;  ///< requests reported to their callback.
    std::uint64_t retries = 0;    ///< attempts that were retries.
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;  ///< any final result but success and cancelled.
    std::uint64_t cancelled = 0;
    std::uint64_t bytes_out = 0;  ///< request body bytes curl reports uploaded.
    std::uint64_t bytes_in = 0;   ///< response body bytes received.
    std::uint64_t connections_opened = 0;
    double current_rate = 0;                   ///< requests/s limit now (0 = unlimited).
    std::chrono::microseconds latency_p50{0};  ///< per attempt, upper bucket bound.
    std::chrono::microseconds latency_p90{0};
    std::chrono::microseconds latency_p99{0};
    std::chrono::microseconds latency_max{0};
};

/// Lock-free counters and a log-linear latency histogram (8 sub-buckets per
/// power of two of microseconds, so a percentile is within 12.5 %).
/// Thread-safe: relaxed atomics; a snapshot is not one consistent instant.
class counters {
  public:
    void record_latency(std::chrono::microseconds latency) noexcept;
    [[nodiscard]] counters_snapshot snapshot() const noexcept;

    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> completed{0};
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> succeeded{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> cancelled{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> connections_opened{0};
    std::atomic<double> current_rate{0};

  private:
    static constexpr std::size_t sub_buckets = 8;
    static constexpr std::size_t bucket_count = 40 * sub_buckets;
    [[nodiscard]] static std::size_t bucket_of(std::uint64_t us) noexcept;
    [[nodiscard]] static std::uint64_t upper_bound_of(std::size_t bucket) noexcept;
    std::array<std::atomic<std::uint64_t>, bucket_count> histogram_{};
    std::atomic<std::uint64_t> max_us_{0};
};

}  // namespace salvo::transport
