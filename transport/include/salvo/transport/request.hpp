#pragma once
/// One HTTP request (POST unless told otherwise) that the client moves to the server.

#include <cstdint>
#include <string>
#include <vector>

namespace salvo::transport {

/// A POST request. It owns everything it carries: the body is moved in and
/// stays owned by the request (inside the client) until the transfer is
/// finished, then comes back to the caller with the outcome. curl reads it
/// through a read callback and can never rewind it (no invisible re-sends).
/// A plain value type: not shared between threads.
struct request {
    std::string url;  ///< absolute http:// or https:// URL.
    /// Empty: POST. Otherwise the method sent instead ("GET", "PUT",
    /// "DELETE"), with the body sent as for a POST (a GET's is empty).
    std::string method;
    /// Whole lines, "Name: value", no CR/LF. Empty: client_options::headers.
    std::vector<std::string> headers;
    std::string body;             ///< the POST body, sent as is.
    std::uint32_t cost = 1;       ///< units for the cost limits (emails), >= 0.
    std::uint64_t user_data = 0;  ///< opaque to the transport, returned as is.
    /// Admission gate: the request is not started before client::advance_gate()
    /// has reached this value (0: no gate). The engine sets it to the journal
    /// offset of the request's dispatch record, so that nothing leaves before
    /// that record is on disk. Gates must not decrease in submission order.
    std::uint64_t gate = 0;
};

}  // namespace salvo::transport
