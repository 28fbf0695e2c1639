#include "salvo/transport/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace salvo::transport {
namespace {

constexpr double ns_per_second = 1e9;
// Token counts and waits are doubles: a deficit of 1e-9 tokens or 1e-6 ns is
// rounding noise, not a reason to wait one more timer round.
constexpr double token_slack = 1e-9;
constexpr double ns_slack = 1e-6;

}  // namespace

token_bucket::token_bucket(double rate_per_second, double capacity, clock::time_point now) noexcept
    : rate_(rate_per_second), capacity_(capacity), tokens_(capacity), last_(now) {}

void token_bucket::refill(clock::time_point now) noexcept {
    if (now <= last_) return;
    const auto elapsed_ns = static_cast<double>((now - last_).count());
    // Multiplying before dividing keeps round figures exact (100 ms at 10/s is 1.0).
    tokens_ = std::min(capacity_, tokens_ + elapsed_ns * rate_ / ns_per_second);
    last_ = now;
}

clock::duration token_bucket::time_until(double amount, clock::time_point now) noexcept {
    refill(now);
    const double needed = std::min(amount, capacity_);
    if (tokens_ + token_slack >= needed) return clock::duration::zero();
    const double wait_ns = std::ceil((needed - tokens_) * ns_per_second / rate_ - ns_slack);
    return clock::duration(static_cast<clock::duration::rep>(wait_ns));
}

void token_bucket::take(double amount) noexcept {
    tokens_ -= amount;
}

void token_bucket::set_rate(double rate_per_second, clock::time_point now) noexcept {
    refill(now);
    rate_ = rate_per_second;
}

rate_limiter::rate_limiter(const rate_limits& limits, const clock& clk) : clock_(clk) {
    const auto now = clock_.now();
    const double burst = std::max(limits.burst_seconds, 0.0);
    if (limits.requests_per_second > 0) {
        const double cap = std::max(1.0, limits.requests_per_second * burst);
        buckets_.push_back({token_bucket(limits.requests_per_second, cap, now),
                            limits.requests_per_second, true, true});
    }
    if (limits.cost_per_second > 0) {
        const double cap = std::max(1.0, limits.cost_per_second * burst);
        buckets_.push_back(
            {token_bucket(limits.cost_per_second, cap, now), limits.cost_per_second, false, true});
    }
    const auto quota = [&](std::uint64_t amount, double period_seconds) {
        if (amount == 0) return;
        const auto cap = static_cast<double>(amount);
        buckets_.push_back(
            {token_bucket(cap / period_seconds, cap, now), cap / period_seconds, false, false});
    };
    quota(limits.cost_per_minute, 60.0);
    quota(limits.cost_per_hour, 3600.0);
    quota(limits.cost_per_day, 86400.0);
}

clock::duration rate_limiter::try_acquire(std::uint32_t cost) noexcept {
    if (buckets_.empty()) return clock::duration::zero();
    const auto now = clock_.now();
    auto wait = clock::duration::zero();
    for (auto& s : buckets_) {
        const double amount = s.per_request ? 1.0 : static_cast<double>(cost);
        wait = std::max(wait, s.bucket.time_until(amount, now));
    }
    if (wait > clock::duration::zero()) return wait;
    for (auto& s : buckets_) s.bucket.take(s.per_request ? 1.0 : static_cast<double>(cost));
    return clock::duration::zero();
}

void rate_limiter::set_scale(double factor) noexcept {
    scale_ = std::clamp(factor, 1e-6, 1.0);
    const auto now = clock_.now();
    for (auto& s : buckets_) {
        if (s.scalable) s.bucket.set_rate(s.configured_rate * scale_, now);
    }
}

double rate_limiter::current_request_rate() const noexcept {
    for (const auto& s : buckets_) {
        if (s.per_request) return s.bucket.rate();
    }
    return 0;
}

}  // namespace salvo::transport
