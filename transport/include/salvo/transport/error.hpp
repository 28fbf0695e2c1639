#pragma once
/// Error codes of salvo::transport, in the style of Beast's http/error.hpp:
/// an `enum class errc` with its own category, plus adapter categories that
/// carry libcurl's `CURLcode` and `CURLMcode` values as
/// `boost::system::error_code` without losing the number.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace salvo::transport {

enum class errc {
    shut_down = 1,      ///< the client is shutting down and admits nothing more.
    window_full,        ///< try_submit: every in-flight slot is taken.
    http_status,        ///< the server answered with a non-success HTTP status.
    no_response,        ///< the transfer ended without any HTTP status line.
    retries_exhausted,  ///< max attempts or max total time reached.
    retry_budget,       ///< the retry budget (fraction of recent requests) is spent.
    rejected_by_hook,   ///< the caller's body hook classified the answer as a failure.
    cancelled,          ///< cancelled by shutdown before it completed.
    invalid_request,    ///< the request cannot be sent as built (empty URL, bad header).
    curl_setup,         ///< libcurl refused an option or a handle could not be made.
};

/// The category of salvo::transport errors; its name is "salvo.transport".
[[nodiscard]] const boost::system::error_category& transport_category() noexcept;

/// Adapter category for libcurl easy codes (`CURLcode`); name "curl".
/// `message()` is `curl_easy_strerror()`.
[[nodiscard]] const boost::system::error_category& curl_category() noexcept;

/// Adapter category for libcurl multi codes (`CURLMcode`); name "curl-multi".
[[nodiscard]] const boost::system::error_category& curl_multi_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), transport_category()};
}

/// `code` is a `CURLcode` value (an int here so that this header does not
/// pull in <curl/curl.h>).
[[nodiscard]] inline boost::system::error_code make_curl_error(int code) noexcept {
    return {code, curl_category()};
}

/// `code` is a `CURLMcode` value.
[[nodiscard]] inline boost::system::error_code make_curl_multi_error(int code) noexcept {
    return {code, curl_multi_category()};
}

}  // namespace salvo::transport

template <>
struct boost::system::is_error_code_enum<salvo::transport::errc> : std::true_type {};
