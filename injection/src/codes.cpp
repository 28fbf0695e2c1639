#include <salvo/injection/codes.hpp>

namespace salvo::injection {

api_code parse_api_code(std::string_view s) noexcept {
    // The API spells its codes one way; a linear scan over the enum keeps
    // this table in one place (to_string) and is short enough for a code
    // read once per response.
    for (auto i = 0; i < static_cast<int>(api_code::unknown); ++i) {
        const auto c = static_cast<api_code>(i);
        if (to_string(c) == s) return c;
    }
    if (s == "InvalidFromAddress") return api_code::invalid_from;
    return api_code::unknown;
}

}  // namespace salvo::injection
