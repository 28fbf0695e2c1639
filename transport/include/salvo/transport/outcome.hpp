#pragma once
/// What happened to one request: the answer, or a classified failure.

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace salvo::transport {

/// The verdict on one attempt (and, in an `outcome`, on the request).
enum class disposition : std::uint8_t {
    success,              ///< 2xx with a complete response.
    retry_now,            ///< nothing can have reached the server; send again at once.
    retry_after_backoff,  ///< safe to send again, after a backoff (or Retry-After).
    permanent,            ///< sending the same request again will fail the same way.
    maybe_delivered,      ///< the whole body went out and no complete answer came.
    cancelled,            ///< stopped by shutdown.
};

[[nodiscard]] constexpr std::string_view to_string(disposition d) noexcept {
    switch (d) {
        case disposition::success:
            return "success";
        case disposition::retry_now:
            return "retry_now";
        case disposition::retry_after_backoff:
            return "retry_after_backoff";
        case disposition::permanent:
            return "permanent";
        case disposition::maybe_delivered:
            return "maybe_delivered";
        case disposition::cancelled:
            return "cancelled";
    }
    return "unknown";
}

/// The final report on one request, handed to its completion callback.
/// `result` is the verdict on the last attempt; when it is retry_now or
/// retry_after_backoff the retries were exhausted (`error` says why: attempts,
/// total time, budget, or shutdown). A plain value: it owns every byte.
struct outcome {
    disposition result = disposition::permanent;
    /// Empty on success. Otherwise a curl code (curl_category), or an
    /// salvo::transport::errc (http_status, no_response, cancelled, ...).
    boost::system::error_code error;
    std::string message;   ///< plain words for a person; never holds secrets.
    int curl_code = 0;     ///< CURLcode of the last attempt (0 = CURLE_OK).
    long http_status = 0;  ///< 0 when no status line arrived.
    /// The HTTP version the last attempt's connection spoke (curl's
    /// CURLINFO_HTTP_VERSION): 10, 11, 20 (HTTP/2) or 30; 0 when none.
    int http_version = 0;
    std::string body;                     ///< response body of the last attempt.
    std::string retry_after;              ///< raw `Retry-After` header value, if any.
    std::string content_type;             ///< raw `Content-Type` header value, if any.
    std::uint64_t bytes_uploaded = 0;     ///< body bytes curl reports sent (last attempt).
    bool whole_body_sent = false;         ///< the whole body may have reached the server.
    unsigned attempts = 0;                ///< attempts made, >= 1 unless cancelled before.
    std::chrono::nanoseconds elapsed{0};  ///< from admission to completion (client clock).
    /// Delays the retry policy scheduled between attempts (backoff or
    /// Retry-After), as computed on the client's clock.
    std::chrono::nanoseconds retry_wait{0};
};

}  // namespace salvo::transport
