#include "salvo/transport/retry_policy.hpp"

#include "salvo/transport/error.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace salvo::transport {

std::optional<clock::duration> parse_retry_after(std::string_view value,
                                                 clock::system_time_point now) noexcept {
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
        value.remove_prefix(1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
        value.remove_suffix(1);
    if (value.empty()) return std::nullopt;

    if (std::all_of(value.begin(), value.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
        if (value.size() > 9) return std::nullopt;  // > 31 years: not a real answer
        std::int64_t seconds = 0;
        for (char c : value) seconds = seconds * 10 + (c - '0');
        return std::chrono::duration_cast<clock::duration>(std::chrono::seconds(seconds));
    }

    // HTTP-date in any of RFC 9110's three forms; curl_getdate reads them all
    // and needs a NUL-terminated copy.
    try {
        const std::string text(value);
        const time_t when = curl_getdate(text.c_str(), nullptr);
        if (when == -1) return std::nullopt;
        const auto at = std::chrono::system_clock::from_time_t(when);
        if (at <= now) return clock::duration::zero();
        return std::chrono::duration_cast<clock::duration>(at - now);
    } catch (...) {
        return std::nullopt;
    }
}

retry_policy::retry_policy(const retry_options& options, const clock& clk, random_source& random)
    : options_(options), clock_(clk), random_(random) {}

void retry_policy::advance(clock::time_point now) noexcept {
    const auto slot_len = std::max<std::int64_t>(
        1, std::chrono::duration_cast<clock::duration>(options_.budget_window).count() /
               static_cast<std::int64_t>(slots));
    const std::int64_t index = now.time_since_epoch().count() / slot_len;
    if (!started_) {
        current_slot_ = index;
        started_ = true;
        return;
    }
    if (index <= current_slot_) return;
    const std::int64_t steps =
        std::min<std::int64_t>(index - current_slot_, static_cast<std::int64_t>(slots));
    for (std::int64_t i = 1; i <= steps; ++i) {
        const auto s =
            static_cast<std::size_t>((current_slot_ + i) % static_cast<std::int64_t>(slots));
        firsts_[s] = 0;
        retries_[s] = 0;
    }
    current_slot_ = index;
}

void retry_policy::on_first_attempt() noexcept {
    advance(clock_.now());
    ++firsts_[static_cast<std::size_t>(current_slot_ % static_cast<std::int64_t>(slots))];
}

bool retry_policy::budget_allows() const noexcept {
    std::uint64_t firsts = 0;
    std::uint64_t retries = 0;
    for (std::size_t i = 0; i < slots; ++i) {
        firsts += firsts_[i];
        retries += retries_[i];
    }
    if (retries < options_.budget_min_retries) return true;
    return static_cast<double>(retries) < options_.budget_ratio * static_cast<double>(firsts);
}

clock::duration retry_policy::backoff(unsigned retry) noexcept {
    using std::chrono::nanoseconds;
    const auto base = std::chrono::duration_cast<nanoseconds>(options_.base).count();
    const auto cap = std::chrono::duration_cast<nanoseconds>(options_.cap).count();
    std::int64_t ceiling = base;
    for (unsigned i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cap);
    if (ceiling <= 0) return clock::duration::zero();
    const auto pick = random_.next() % (static_cast<std::uint64_t>(ceiling) + 1);
    return std::chrono::duration_cast<clock::duration>(
        nanoseconds(static_cast<std::int64_t>(pick)));
}

retry_decision retry_policy::decide(disposition result, unsigned attempts_made,
                                    clock::time_point first_attempt,
                                    std::optional<clock::duration> retry_after) noexcept {
    if (result != disposition::retry_now && result != disposition::retry_after_backoff) return {};
    const auto exhausted = retry_decision{false, {}, static_cast<int>(errc::retries_exhausted)};
    if (attempts_made >= options_.max_attempts) return exhausted;

    const auto now = clock_.now();
    advance(now);
    const bool over_budget = !budget_allows();

    const unsigned retry_number = attempts_made;  // the retry about to be made, 1-based
    clock::duration delay{0};
    if (retry_after) {
        delay = *retry_after;
    } else if (result == disposition::retry_now && retry_number == 1 && !over_budget) {
        delay = clock::duration::zero();
    } else {
        delay = backoff(retry_number);
    }
    if (over_budget) {
        // Wait at least until the oldest sub-window has rotated out, plus
        // jitter so that the throttled retries do not all go at once.
        const auto slot = std::chrono::duration_cast<clock::duration>(options_.budget_window) /
                          static_cast<std::int64_t>(slots);
        const auto jitter = clock::duration(static_cast<clock::duration::rep>(
            random_.next() %
            static_cast<std::uint64_t>(std::max<clock::duration::rep>(1, slot.count()))));
        delay = std::max(delay, slot + jitter);
    }
    const auto max_total = std::chrono::duration_cast<clock::duration>(options_.max_total);
    if (now + delay - first_attempt > max_total) return exhausted;

    ++retries_[static_cast<std::size_t>(current_slot_ % static_cast<std::int64_t>(slots))];
    return {true, delay, 0, over_budget};
}

}  // namespace salvo::transport
