#pragma once
/// The response reader: maps an Injection API answer (HTTP status and JSON
/// body, INJECTION_API.md §5–§6) back to exactly the recipients of the
/// request it answers.

#include <salvo/injection/codes.hpp>
#include <salvo/injection/outgoing_request.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::injection {

/// What happened to a request, or to one recipient of it.
enum class api_result : std::uint8_t {
    accepted,   ///< the API took it
    rejected,   ///< the API refused it for good, with a code (message or address level)
    retry,      ///< nothing was accepted; send the same body again after backoff
    stop_job,   ///< credentials or account trouble: send nothing more
    failed,     ///< the request as built is refused (InvalidData, TooMany*, 413): a client bug
                ///< or a limit set too high; re-sending it cannot help
    ambiguous,  ///< the server processed it but the answer cannot be read: maybe delivered
};

[[nodiscard]] std::string_view to_string(api_result f) noexcept;

/// One recipient that is not simply accepted.
struct recipient_outcome {
    std::uint32_t slot = 0;  ///< index into outgoing_request::slots
    api_result what = api_result::rejected;
    api_code code = api_code::unknown;
};

/// The reading of one response.
struct response_verdict {
    /// accepted: every recipient is accepted except those in `rejected`.
    /// Any other value applies to every recipient of the request.
    api_result request_fate = api_result::accepted;
    api_code code = api_code::unknown;  ///< the top-level ErrorCode, if read
    int http_status = 0;
    bool fast_path = false;                   ///< the canonical success body, matched byte for byte
    std::vector<recipient_outcome> rejected;  ///< by slot order
    std::string detail;  ///< why, for anything but plain success (names codes, never keys)

    /// The fate of slot `i` (linear in rejected; for tests and reports).
    [[nodiscard]] api_result fate_of(std::uint32_t i) const noexcept;
    [[nodiscard]] api_code code_of(std::uint32_t i) const noexcept;
};

/// The body the API sends when everything was accepted.
inline constexpr std::string_view canonical_success_body =
    R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})";

/// One per thread (holds a reusable simdjson parser and buffer); not
/// thread-safe. Never throws on bad input and never crashes: a body that is
/// not JSON, lacks a field or holds an unknown code is classified and
/// explained in response_verdict::detail.
class response_reader {
  public:
    response_reader();
    ~response_reader();
    response_reader(response_reader&&) noexcept;
    response_reader& operator=(response_reader&&) noexcept;

    /// Reads the answer to `req`: `http_status` as received (0: none),
    /// `body` as received. The verdict is reused between calls (its vector
    /// keeps its capacity); the reference stays valid until the next read.
    const response_verdict& read(int http_status, std::string_view body,
                                 const outgoing_request& req);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// How a top-level code (or an HTTP status with no readable code) is
/// handled: the table of INJECTION_API.md §6. Message-level codes at top
/// level reject every recipient of the request.
[[nodiscard]] api_result classify_top_level(api_code c) noexcept;
[[nodiscard]] api_result classify_http_status(int status) noexcept;

}  // namespace salvo::injection
