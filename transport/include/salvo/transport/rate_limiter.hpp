#pragma once
/// Token-bucket admission: requests per second, cost (emails) per second and
/// optional longer quotas, driven by an injected clock.

#include "salvo/transport/clock.hpp"

#include <cstdint>
#include <vector>

namespace salvo::transport {

/// Limits; 0 means "no limit" for each.
struct rate_limits {
    double requests_per_second = 0;
    double cost_per_second = 0;  ///< caller-given cost units (emails) per second.
    /// Bucket depth in seconds of rate: how large a burst may go out at once
    /// after an idle period (at least one request / one request's cost).
    double burst_seconds = 1.0;
    std::uint64_t cost_per_minute = 0;  ///< quota, refilled evenly over the minute.
    std::uint64_t cost_per_hour = 0;
    std::uint64_t cost_per_day = 0;
};

/// One token bucket: `capacity` tokens, refilled at `rate` per second. A
/// request larger than the capacity is admitted when the bucket is full and
/// leaves it in debt, so that a big request waits but never deadlocks.
/// Not thread-safe (the client uses it on its network thread only).
class token_bucket {
  public:
    token_bucket(double rate_per_second, double capacity, clock::time_point now) noexcept;

    /// Time until `amount` tokens are there; zero when they are now.
    [[nodiscard]] clock::duration time_until(double amount, clock::time_point now) noexcept;
    /// Takes `amount` tokens (may go below zero).
    void take(double amount) noexcept;
    /// Changes the refill rate (adaptive rate), keeping the current tokens.
    void set_rate(double rate_per_second, clock::time_point now) noexcept;
    [[nodiscard]] double rate() const noexcept { return rate_; }
    [[nodiscard]] double capacity() const noexcept { return capacity_; }

  private:
    void refill(clock::time_point now) noexcept;
    double rate_;
    double capacity_;
    double tokens_;
    clock::time_point last_;
};

/// Admission for the client. `try_acquire(cost)` either takes the tokens of
/// every bucket and returns zero, or takes nothing and returns how long to wait
/// before asking again (the client arms one timer for that; nothing polls).
/// Not thread-safe; the clock is borrowed and must outlive the limiter.
class rate_limiter {
  public:
    rate_limiter(const rate_limits& limits, const clock& clk);

    [[nodiscard]] clock::duration try_acquire(std::uint32_t cost) noexcept;

    /// Scales the per-second rates (not the longer quotas) by `factor` of
    /// their configured value; used by adaptive_rate. factor in (0, 1].
    void set_scale(double factor) noexcept;
    [[nodiscard]] double scale() const noexcept { return scale_; }
    /// Current requests-per-second limit after scaling; 0 when unlimited.
    [[nodiscard]] double current_request_rate() const noexcept;
    [[nodiscard]] bool limited() const noexcept { return !buckets_.empty(); }

  private:
    struct slot {
        token_bucket bucket;
        double configured_rate;
        bool per_request;  ///< counts requests (1 each) rather than cost.
        bool scalable;     ///< follows set_scale (per-second limits only).
    };
    const clock& clock_;
    std::vector<slot> buckets_;
    double scale_ = 1.0;
};

}  // namespace salvo::transport
