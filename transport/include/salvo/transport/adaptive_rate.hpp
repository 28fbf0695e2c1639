#pragma once
/// Additive-increase / multiplicative-decrease of the send rate, so that the
/// client converges on what the server allows. Off by default.

#include "salvo/transport/clock.hpp"

#include <chrono>

namespace salvo::transport {

struct adaptive_rate_options {
    bool enabled = false;
    double decrease_factor = 0.5;  ///< on a throttle signal: scale *= factor (< 1).
    double increase_step = 0.05;   ///< after a quiet interval: scale += step.
    std::chrono::milliseconds quiet_interval{5'000};
    double min_scale = 0.01;  ///< never below this fraction of the configured rate.
};

/// Tracks a scale in [min_scale, 1] applied to the configured per-second
/// rates. A throttle signal (HTTP 429, or the body hook saying so) cuts it at
/// most once per quiet interval; each quiet interval without a throttle raises
/// it by one step. Needs a configured rate to act on.
/// Not thread-safe; the clock is borrowed.
class adaptive_rate {
  public:
    adaptive_rate(const adaptive_rate_options& options, const clock& clk) noexcept;

    /// Returns the new scale.
    double on_throttle() noexcept;
    /// Call on each success; returns the (maybe raised) scale.
    double on_success() noexcept;
    [[nodiscard]] double scale() const noexcept { return scale_; }

  private:
    adaptive_rate_options options_;
    const clock& clock_;
    double scale_ = 1.0;
    clock::time_point last_change_;
    bool changed_ = false;
};

}  // namespace salvo::transport
