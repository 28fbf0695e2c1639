#pragma once
/// Error codes of salvo::merge, in the style of Beast's http/error.hpp: an
/// `enum class errc` with its own category, usable as a
/// `boost::system::error_code`.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace salvo::merge {

enum class errc {
    // Compile errors: the template itself is wrong (a job error).
    unknown_modifier = 1,  ///< `%%name:upper%%`: only `raw` and `url` exist.
    unclosed_placeholder,  ///< `%%name|fallback` with no closing `%%` on the line.
    bad_fallback,          ///< a fallback holding `%`, or a malformed modifier.
    unknown_field,         ///< a field that no column and no Global provides.
    global_breaks_header,  ///< a Global value with CR or LF used in a header context.
    // Expansion errors: one row is invalid, the job goes on.
    header_injection,  ///< a value with CR or LF would land in a header.
    missing_value,     ///< the job asked that empty fields make the row invalid.
    // A compile error (numbered last to keep the codes above stable).
    bad_text,  ///< the template is not UTF-8 text: invalid bytes or a NUL byte.
};

/// The category of salvo::merge errors; its name is "salvo.merge".
[[nodiscard]] const boost::system::error_category& merge_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), merge_category()};
}

}  // namespace salvo::merge

template <>
struct boost::system::is_error_code_enum<salvo::merge::errc> : std::true_type {};
