#pragma once
/// The time and randomness sources that the rate limiter and the retry policy
/// are given, so that tests drive them with a fake clock and a scripted or
/// seeded generator and assert exact schedules without sleeping.

#include <chrono>
#include <cstdint>

namespace salvo::transport {

/// A source of time. `now()` is monotonic (schedules); `system_now()` is wall
/// time, used only to turn an HTTP-date `Retry-After` into a delay.
/// Implementations must be safe to call from any thread.
class clock {
  public:
    using duration = std::chrono::steady_clock::duration;
    using time_point = std::chrono::steady_clock::time_point;
    using system_time_point = std::chrono::system_clock::time_point;

    virtual ~clock() = default;
    [[nodiscard]] virtual time_point now() const noexcept = 0;
    [[nodiscard]] virtual system_time_point system_now() const noexcept = 0;
};

/// The real clocks (`steady_clock`, `system_clock`). Stateless; thread-safe.
class real_clock final : public clock {
  public:
    [[nodiscard]] time_point now() const noexcept override {
        return std::chrono::steady_clock::now();
    }
    [[nodiscard]] system_time_point system_now() const noexcept override {
        return std::chrono::system_clock::now();
    }
};

/// A source of uniformly distributed 64-bit values. Not thread-safe: each
/// owner (one retry policy) has its own.
class random_source {
  public:
    virtual ~random_source() = default;
    [[nodiscard]] virtual std::uint64_t next() noexcept = 0;
};

/// splitmix64 seeded with a fixed value: the same seed gives the same
/// sequence on every platform (unlike std:: distributions). Not thread-safe.
class seeded_random final : public random_source {
  public:
    explicit seeded_random(std::uint64_t seed) noexcept : state_(seed) {}
    [[nodiscard]] std::uint64_t next() noexcept override {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

  private:
    std::uint64_t state_;
};

}  // namespace salvo::transport
