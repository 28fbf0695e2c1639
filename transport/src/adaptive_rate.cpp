#include "salvo/transport/adaptive_rate.hpp"

#include <algorithm>

namespace salvo::transport {

adaptive_rate::adaptive_rate(const adaptive_rate_options& options, const clock& clk) noexcept
    : options_(options), clock_(clk), last_change_(clk.now()) {}

double adaptive_rate::on_throttle() noexcept {
    if (!options_.enabled) return scale_;
    const auto now = clock_.now();
    // One cut per quiet interval: a burst of 429s answering requests sent at
    // the old rate must not collapse the rate to the floor.
    if (changed_ && now - last_change_ < options_.quiet_interval && scale_ < 1.0) return scale_;
    scale_ = std::max(options_.min_scale, scale_ * options_.decrease_factor);
    last_change_ = now;
    changed_ = true;
    return scale_;
}

double adaptive_rate::on_success() noexcept {
    if (!options_.enabled || scale_ >= 1.0) return scale_;
    const auto now = clock_.now();
    if (now - last_change_ >= options_.quiet_interval) {
        scale_ = std::min(1.0, scale_ + options_.increase_step);
        last_change_ = now;
    }
    return scale_;
}

}  // namespace salvo::transport
