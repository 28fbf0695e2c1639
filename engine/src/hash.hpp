#pragma once
// FNV-1a over a sequence of strings, for fingerprints (not for security).

#include <cstdint>
#include <string_view>

namespace salvo::engine::detail {

inline constexpr std::uint64_t fnv1a_seed = 0xcbf29ce484222325ULL;

/// Folds `s` into `h`, then a separator, so that ("ab","c") and ("a","bc")
/// give different hashes.
inline std::uint64_t fnv1a(std::uint64_t h, std::string_view s) noexcept {
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff;
    h *= 0x100000001b3ULL;
    return h;
}

}  // namespace salvo::engine::detail
