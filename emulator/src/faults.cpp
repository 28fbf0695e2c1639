#include "faults.hpp"

#include <salvo/emulator/error.hpp>

namespace salvo::emulator {

const char* to_string(fault_kind k) noexcept {
    switch (k) {
        case fault_kind::http_500:
            return "http_500";
        case fault_kind::http_502:
            return "http_502";
        case fault_kind::http_503:
            return "http_503";
        case fault_kind::http_504:
            return "http_504";
        case fault_kind::throttle:
            return "throttle";
        case fault_kind::over_quota:
            return "over_quota";
        case fault_kind::invalid_authentication:
            return "invalid_authentication";
        case fault_kind::api_code:
            return "api_code";
        case fault_kind::reset_before_body:
            return "reset_before_body";
        case fault_kind::reset_after_body:
            return "reset_after_body";
        case fault_kind::delay:
            return "delay";
        case fault_kind::no_response:
            return "no_response";
        case fault_kind::reject_address:
            return "reject_address";
    }
    return "unknown";
}

namespace detail {

namespace {
std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}
}  // namespace

double fault_plan::draw(std::uint64_t seed, std::uint64_t request_number,
                        std::size_t rule) noexcept {
    const auto h = splitmix64(splitmix64(seed ^ splitmix64(request_number)) + rule);
    return static_cast<double>(h >> 11) * 0x1.0p-53;
}

fault_plan::fault_plan(std::vector<fault_rule> rules, std::uint64_t seed)
    : rules_(std::move(rules)),
      used_(std::make_unique<std::atomic<std::uint64_t>[]>(rules_.size())),
      seed_(seed) {}

boost::system::result<std::unique_ptr<fault_plan>> fault_plan::make(
    const std::vector<fault_rule>& rules, std::uint64_t seed) {
    std::unique_ptr<fault_plan> plan(new fault_plan(rules, seed));
    for (const auto& r : rules) {
        if (!(r.rate >= 0.0 && r.rate <= 1.0)) return make_error_code(errc::bad_options);
        std::unique_ptr<std::regex> re;
        if (r.kind == fault_kind::reject_address) {
            try {
                re = std::make_unique<std::regex>(r.pattern,
                                                  std::regex::ECMAScript | std::regex::icase);
            } catch (const std::regex_error&) {
                return make_error_code(errc::bad_fault_pattern);
            }
        }
        plan->patterns_.push_back(std::move(re));
    }
    return plan;
}

bool fault_plan::hits(std::size_t i, std::uint64_t request_number) {
    const auto& r = rules_[i];
    if (request_number <= r.after) return false;
    if (r.rate < 1.0 && draw(seed_, request_number, i) >= r.rate) return false;
    auto used = used_[i].load(std::memory_order_relaxed);
    while (used < r.times) {
        if (used_[i].compare_exchange_weak(used, used + 1, std::memory_order_relaxed)) return true;
    }
    return false;
}

fault_plan::decision fault_plan::decide(std::uint64_t request_number) {
    decision d;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const bool reject = rules_[i].kind == fault_kind::reject_address;
        if (!reject && d.rule) continue;
        if (!hits(i, request_number)) continue;
        if (reject)
            d.rejects.push_back(patterns_[i].get());
        else
            d.rule = &rules_[i];
    }
    return d;
}

}  // namespace detail
}  // namespace salvo::emulator
