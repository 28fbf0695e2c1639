#pragma once
/// One table-driven classification of transfer results (STYLE rule 7,
/// INJECTION_API.md §6): which failures may be retried, which are permanent,
/// and which may already have been delivered.

#include "salvo/transport/outcome.hpp"

#include <functional>
#include <string_view>

namespace salvo::transport {

/// The facts of one finished attempt that decide its fate.
struct attempt_facts {
    int curl_code = 0;             ///< CURLcode (0 = CURLE_OK).
    long http_status = 0;          ///< 0 when no status line arrived.
    bool whole_body_sent = false;  ///< the whole body may have reached the server.
    /// The server refused the HTTP/2 stream (REFUSED_STREAM, or GOAWAY with a
    /// lower last-stream-id): it did not process the request.
    bool refused_stream = false;
};

/// The verdict of the table. `throttled` marks a server asking to slow down
/// (429), which feeds the adaptive rate.
struct verdict {
    disposition result = disposition::permanent;
    bool throttled = false;
};

/// How one curl code is treated when no complete answer came. Exposed for the
/// table-driven test.
enum class curl_class : std::uint8_t {
    ok,            ///< CURLE_OK: decided by the HTTP status.
    before_send,   ///< DNS, connect, TLS handshake: the body never left.
    cert_failure,  ///< certificate verification or CA file: permanent.
    mid_transfer,  ///< reset, timeout, empty reply: depends on the body having gone.
    local_error,   ///< bad URL, bad option, out of memory: permanent.
    aborted,       ///< aborted by our own callback: cancelled.
};

[[nodiscard]] curl_class classify_curl_code(int curl_code) noexcept;

/// HTTP status alone: 2xx success; 408, 429, 500, 502, 503, 504 retry after
/// backoff (429 throttled); everything else permanent.
[[nodiscard]] verdict classify_http_status(long http_status) noexcept;

/// The whole table. A transfer that ends with CURLE_OK but no HTTP status is
/// never a success: maybe_delivered when the body went out, retry_now
/// otherwise. A curl error after the body went out is maybe_delivered; a curl
/// error before it is retry_now (reset of a reused connection) or
/// retry_after_backoff (DNS, connect, handshake). A transfer broken after a
/// final status arrived follows the status when it is an error (the server
/// refused it), and is maybe_delivered when it was 2xx. Certificate failures
/// are permanent. A refused HTTP/2 stream with no answer is retry_now, the
/// whole body sent or not: the server says it did not process it.
[[nodiscard]] verdict classify(const attempt_facts& facts) noexcept;

/// Caller hook for answers that the HTTP status alone does not decide
/// (body-level codes such as the Injection API's `OverQuota` inside a 200).
/// Called on the network thread with every complete answer (CURLE_OK and an
/// HTTP status) and the verdict `classify()` gave it; return the verdict to
/// use instead, or `current` to keep it. Must not block or call the client's
/// blocking functions.
using body_hook = std::function<verdict(const outcome& answer, verdict current)>;

}  // namespace salvo::transport
