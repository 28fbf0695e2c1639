#pragma once
/// A manual clock and a scripted random source for salvo::transport's
/// injected time and randomness: tests advance time by hand and assert exact
/// schedules, never sleeping.

#include "salvo/transport/clock.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace salvo::test {

/// Starts at steady time 1000 s and wall time 2026-01-01T00:00:00Z; moves only
/// when advance() is called. Thread-safe (atomic).
class fake_clock final : public transport::clock {
  public:
    [[nodiscard]] time_point now() const noexcept override {
        return time_point(duration(steady_.load()));
    }
    [[nodiscard]] system_time_point system_now() const noexcept override {
        return system_time_point(std::chrono::duration_cast<system_time_point::duration>(
            std::chrono::seconds(1'767'225'600) + duration(steady_.load() - start_)));
    }
    void advance(duration d) noexcept { steady_.fetch_add(d.count()); }

  private:
    static constexpr duration::rep start_ =
        std::chrono::duration_cast<duration>(std::chrono::seconds(1000)).count();
    std::atomic<duration::rep> steady_{start_};
};

/// Returns the given values in turn, then repeats the last one.
class scripted_random final : public transport::random_source {
  public:
    explicit scripted_random(std::vector<std::uint64_t> values) : values_(std::move(values)) {}
    [[nodiscard]] std::uint64_t next() noexcept override {
        if (values_.empty()) return 0;
        const auto v = values_[next_ < values_.size() ? next_ : values_.size() - 1];
        ++next_;
        return v;
    }

  private:
    std::vector<std::uint64_t> values_;
    std::size_t next_ = 0;
};

}  // namespace salvo::test
