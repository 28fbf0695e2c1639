#include "salvo/transport/counters.hpp"

#include <algorithm>
#include <bit>

namespace salvo::transport {

std::size_t counters::bucket_of(std::uint64_t us) noexcept {
    // Values below sub_buckets get a bucket each; above, 8 buckets per octave.
    if (us < sub_buckets) return static_cast<std::size_t>(us);
    const auto octave = static_cast<std::size_t>(std::bit_width(us)) - 4;  // us >= 8
    const auto sub = static_cast<std::size_t>((us >> (octave)) & (sub_buckets - 1));
    const std::size_t b = sub_buckets + octave * sub_buckets + sub;
    return b < bucket_count ? b : bucket_count - 1;
}

std::uint64_t counters::upper_bound_of(std::size_t bucket) noexcept {
    if (bucket < sub_buckets) return bucket;
    const std::size_t octave = (bucket - sub_buckets) / sub_buckets;
    const std::size_t sub = (bucket - sub_buckets) % sub_buckets;
    return ((sub_buckets + sub + 1) << octave) - 1;
}

void counters::record_latency(std::chrono::microseconds latency) noexcept {
    const auto us = static_cast<std::uint64_t>(latency.count() < 0 ? 0 : latency.count());
    histogram_[bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
    auto seen = max_us_.load(std::memory_order_relaxed);
    while (us > seen && !max_us_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
    }
}

counters_snapshot counters::snapshot() const noexcept {
    counters_snapshot s;
    s.requests = requests.load(std::memory_order_relaxed);
    s.completed = completed.load(std::memory_order_relaxed);
    s.retries = retries.load(std::memory_order_relaxed);
    s.succeeded = succeeded.load(std::memory_order_relaxed);
    s.failed = failed.load(std::memory_order_relaxed);
    s.cancelled = cancelled.load(std::memory_order_relaxed);
    s.bytes_out = bytes_out.load(std::memory_order_relaxed);
    s.bytes_in = bytes_in.load(std::memory_order_relaxed);
    s.connections_opened = connections_opened.load(std::memory_order_relaxed);
    s.current_rate = current_rate.load(std::memory_order_relaxed);

    std::array<std::uint64_t, bucket_count> h{};
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        h[i] = histogram_[i].load(std::memory_order_relaxed);
        total += h[i];
    }
    const auto max_us = max_us_.load(std::memory_order_relaxed);
    const auto percentile = [&](std::uint64_t per_mille) {
        if (total == 0) return std::chrono::microseconds(0);
        const std::uint64_t rank = (total * per_mille + 999) / 1000;  // 1-based
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += h[i];
            if (seen >= rank) {
                const auto bound = std::min(upper_bound_of(i), max_us);
                return std::chrono::microseconds(static_cast<std::int64_t>(bound));
            }
        }
        return std::chrono::microseconds(static_cast<std::int64_t>(max_us));
    };
    s.latency_p50 = percentile(500);
    s.latency_p90 = percentile(900);
    s.latency_p99 = percentile(990);
    s.latency_max = std::chrono::microseconds(static_cast<std::int64_t>(max_us));
    return s;
}

}  // namespace salvo::transport
