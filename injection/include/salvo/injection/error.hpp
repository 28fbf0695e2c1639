#pragma once
/// Error codes of salvo::injection, in the style of Beast's http/error.hpp:
/// an `enum class errc` with its own category, usable as a
/// `boost::system::error_code`. Messages never carry an API key.

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>

#include <string>
#include <type_traits>

namespace salvo::injection {

enum class errc {
    // Job errors: found before anything is sent.
    bad_credentials = 1,  ///< empty or unprintable API key, or a zero ServerId.
    bad_limits,           ///< a limit of zero, or a byte cap above the server's.
    bad_message,          ///< the message spec breaks the contract (no From, no body, …).
    server_mode_refused,  ///< a template cannot be lowered to plain `%%Field%%`.
    // Recipient errors: one recipient is `invalid`, the job goes on.
    message_too_large,     ///< the recipient's message alone exceeds the byte cap.
    recipient_line_break,  ///< the recipient's address or name holds CR or LF.
    bad_row,  ///< the row renders a message the API refuses (bad From, empty Subject or bodies).
    // Response errors: the answer could not be read.
    malformed_response,  ///< not JSON, or a field missing or of the wrong type.
    unknown_code,        ///< an ErrorCode spelling the API does not document.
};

/// The category of salvo::injection errors; its name is "salvo.injection".
[[nodiscard]] const boost::system::error_category& injection_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), injection_category()};
}

/// An error with its complete human message (what, where, why), for job
/// errors and invalid recipients. Never holds an API key.
struct error_info {
    boost::system::error_code code;
    std::string message;
};

/// Lets boost::system::result<…, error_info>::value() throw: the exception
/// is a std::runtime_error carrying the message.
[[noreturn]] void throw_exception_from_error(const error_info& e,
                                             const boost::source_location& loc);

}  // namespace salvo::injection

template <>
struct boost::system::is_error_code_enum<salvo::injection::errc> : std::true_type {};
