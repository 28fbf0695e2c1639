#pragma once
/// When, and whether, a failed attempt is tried again: exponential backoff
/// with full jitter, bounded attempts and total time, a retry budget, and
/// `Retry-After` overriding the computed delay.

#include "salvo/transport/clock.hpp"
#include "salvo/transport/outcome.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace salvo::transport {

struct retry_options {
    /// Attempts in all, first one included; 1 = no retry. Attempts made while
    /// the circuit is open (an outage, see client.hpp) do not count.
    unsigned max_attempts = 25;
    std::chrono::milliseconds base{500};    ///< first backoff ceiling.
    std::chrono::milliseconds cap{30'000};  ///< largest backoff ceiling.
    /// A request is not retried once this much time has passed since its first
    /// attempt, or when the next delay would pass it.
    std::chrono::milliseconds max_total{600'000};
    /// Retries beyond this fraction of first attempts in the last
    /// `budget_window` (at least `budget_min_retries` per window) are not
    /// refused: they wait (a sub-window or the backoff, whichever is longer)
    /// and, with adaptive rate on, bring the rate down.
    double budget_ratio = 0.2;
    std::chrono::milliseconds budget_window{10'000};
    unsigned budget_min_retries = 10;
};

/// Parses a `Retry-After` value: delay-seconds ("120") or an HTTP-date
/// ("Wed, 21 Oct 2026 07:28:00 GMT", RFC 9110; the obsolete forms too). A
/// date in the past gives zero. nullopt for anything unreadable.
[[nodiscard]] std::optional<clock::duration> parse_retry_after(
    std::string_view value, clock::system_time_point now) noexcept;

/// The decision on one failed attempt.
struct retry_decision {
    bool retry = false;
    clock::duration delay{0};
    /// Why not: errc::retries_exhausted (when !retry and the disposition was
    /// retryable); empty otherwise.
    int reason = 0;
    /// The retry budget was spent: the delay was stretched to throttle.
    bool over_budget = false;
};

/// The retry policy. Backoff for retry n (n = 1 for the first retry) is
/// uniform in [0, min(cap, base * 2^(n-1))] ("full jitter"); retry_now goes
/// at once for its first retry and backs off after that. A parsed
/// `Retry-After` replaces the computed delay.
/// Not thread-safe (the client uses it on its network thread). The clock and
/// the random source are borrowed and must outlive the policy.
class retry_policy {
  public:
    retry_policy(const retry_options& options, const clock& clk, random_source& random);

    /// Records a first attempt (feeds the budget's denominator).
    void on_first_attempt() noexcept;

    /// Decides after attempt number `attempts_made` (1-based) of a request
    /// first sent at `first_attempt`, whose verdict was `result`.
    /// Records the retry in the budget when it says yes. Over the budget it
    /// still says yes, with a longer delay (throttling, never failing).
    [[nodiscard]] retry_decision decide(disposition result, unsigned attempts_made,
                                        clock::time_point first_attempt,
                                        std::optional<clock::duration> retry_after) noexcept;

    /// The full-jitter delay for retry number `retry` (1-based), exposed for tests.
    [[nodiscard]] clock::duration backoff(unsigned retry) noexcept;

    [[nodiscard]] const retry_options& options() const noexcept { return options_; }

  private:
    static constexpr std::size_t slots = 10;
    void advance(clock::time_point now) noexcept;
    [[nodiscard]] bool budget_allows() const noexcept;

    retry_options options_;
    const clock& clock_;
    random_source& random_;
    // The budget window as a ring of `slots` sub-windows.
    std::array<std::uint64_t, slots> firsts_{};
    std::array<std::uint64_t, slots> retries_{};
    std::int64_t current_slot_ = 0;  ///< absolute index of the newest sub-window.
    bool started_ = false;
};

}  // namespace salvo::transport
