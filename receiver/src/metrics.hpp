#pragma once
// The receiver's counters and their Prometheus text. Every member is an
// atomic updated with relaxed order: written by sessions and the writer,
// read by `GET /metrics`.

#include <salvo/platform/event.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace salvo::receiver::detail {

using counter = std::atomic<std::uint64_t>;

inline void bump(counter& c, std::uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
}

struct metrics {
    /// Upper bounds, in seconds, of the commit-latency histogram buckets.
    static constexpr std::array<double, 11> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0};
    std::array<counter, platform::event_type_count> stored_by_type{};
    counter duplicates{0};
    counter suppressed{0};
    counter posts{0};
    counter inbound_posts{0}, inbound_stored{0}, inbound_duplicates{0};
    counter one_click{0};  ///< valid one-click POSTs
    /// Answers by status: 200, 400, 401, 404, 405, 408, 413, 503.
    counter s200{0}, s400{0}, s401{0}, s404{0}, s405{0}, s408{0}, s413{0}, s503{0};
    counter commits{0}, commit_failures{0};
    std::array<counter, bounds.size() + 1> commit_buckets{};  // the last is +Inf
    counter commit_micros{0};
    std::atomic<std::int64_t> queue_depth{0};  ///< events waiting for a commit
    std::atomic<std::int64_t> connections{0};
    /// Replies handed on (options::on_reply, forward_url).
    counter command_ok{0}, command_retried{0}, command_failed{0};
    counter forward_ok{0}, forward_retried{0}, forward_failed{0}, handoff_dropped{0};
    void last_handoff_error(std::string why) {
        const std::lock_guard lock(error_mutex);
        handoff_error = std::move(why);
    }
    [[nodiscard]] std::string last_handoff_error() const {
        const std::lock_guard lock(error_mutex);
        return handoff_error;
    }
    mutable std::mutex error_mutex;
    std::string handoff_error;

    void answered(unsigned status) noexcept;
    void committed(std::chrono::steady_clock::duration took) noexcept;
    [[nodiscard]] std::string text() const;
};

}  // namespace salvo::receiver::detail
