#pragma once
// Decides, per request number, which fault rules hit: reproducible from the
// seed whatever the thread interleaving, because each draw is a hash of
// (seed, request number, rule position) rather than a shared generator.

#include <salvo/emulator/options.hpp>

#include <boost/system/result.hpp>

#include <atomic>
#include <memory>
#include <regex>
#include <vector>

namespace salvo::emulator::detail {

class fault_plan {
  public:
    struct decision {
        const fault_rule* rule = nullptr;        // the answer-deciding rule, if any
        std::vector<const std::regex*> rejects;  // hitting reject_address patterns
    };

    [[nodiscard]] static boost::system::result<std::unique_ptr<fault_plan>> make(
        const std::vector<fault_rule>& rules, std::uint64_t seed);

    // Thread-safe. Counts each hit against its rule's `times`.
    [[nodiscard]] decision decide(std::uint64_t request_number);

    // Uniform draw in [0, 1) for (seed, request, rule): exposed for tests.
    [[nodiscard]] static double draw(std::uint64_t seed, std::uint64_t request_number,
                                     std::size_t rule) noexcept;

  private:
    fault_plan(std::vector<fault_rule> rules, std::uint64_t seed);
    bool hits(std::size_t i, std::uint64_t request_number);

    std::vector<fault_rule> rules_;
    std::vector<std::unique_ptr<std::regex>> patterns_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> used_;
    std::uint64_t seed_;
};

}  // namespace salvo::emulator::detail
