#pragma once
/// The Injection API's result codes and limits (INJECTION_API.md §4–§5),
/// shared by the client side (request writer, response reader) and the
/// emulator (request reader, response writer). Spellings are exact.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace salvo::injection {

/// Every `ErrorCode` the API documents, at request, message and address
/// level. `unknown` stands for a spelling we do not know; it is never sent.
enum class api_code : std::uint8_t {
    success,
    warning,
    account_disabled,
    internal_error,
    invalid_authentication,
    invalid_data,
    no_messages,
    empty_message,
    over_quota,
    too_many_errors,
    too_many_messages,
    too_many_recipients,
    no_valid_recipients,
    invalid_attachment,
    message_too_large,
    empty_subject,
    empty_to_address,
    invalid_from,
    no_valid_body_parts,
    invalid_merge_data,
    invalid_template_id,
    template_has_no_content,
    message_body_conflict,
    metadata_or_tags_are_too_large,
    invalid_address,
    unknown,
};

/// The exact wire spelling ("Success", "InvalidMergeData", …); "Unknown" for
/// api_code::unknown.
[[nodiscard]] constexpr std::string_view to_string(api_code c) noexcept {
    switch (c) {
        case api_code::success:
            return "Success";
        case api_code::warning:
            return "Warning";
        case api_code::account_disabled:
            return "AccountDisabled";
        case api_code::internal_error:
            return "InternalError";
        case api_code::invalid_authentication:
            return "InvalidAuthentication";
        case api_code::invalid_data:
            return "InvalidData";
        case api_code::no_messages:
            return "NoMessages";
        case api_code::empty_message:
            return "EmptyMessage";
        case api_code::over_quota:
            return "OverQuota";
        case api_code::too_many_errors:
            return "TooManyErrors";
        case api_code::too_many_messages:
            return "TooManyMessages";
        case api_code::too_many_recipients:
            return "TooManyRecipients";
        case api_code::no_valid_recipients:
            return "NoValidRecipients";
        case api_code::invalid_attachment:
            return "InvalidAttachment";
        case api_code::message_too_large:
            return "MessageTooLarge";
        case api_code::empty_subject:
            return "EmptySubject";
        case api_code::empty_to_address:
            return "EmptyToAddress";
        case api_code::invalid_from:
            return "InvalidFrom";
        case api_code::no_valid_body_parts:
            return "NoValidBodyParts";
        case api_code::invalid_merge_data:
            return "InvalidMergeData";
        case api_code::invalid_template_id:
            return "InvalidTemplateId";
        case api_code::template_has_no_content:
            return "TemplateHasNoContent";
        case api_code::message_body_conflict:
            return "MessageBodyConflict";
        case api_code::metadata_or_tags_are_too_large:
            return "MetadataOrTagsAreTooLarge";
        case api_code::invalid_address:
            return "InvalidAddress";
        case api_code::unknown:
            return "Unknown";
    }
    return "Unknown";
}

/// Reads a wire spelling, case-sensitively as the API writes it, accepting
/// the alternative "InvalidFromAddress". Anything else is api_code::unknown.
[[nodiscard]] api_code parse_api_code(std::string_view s) noexcept;

/// Request-level codes after which nothing more may be sent (§6).
[[nodiscard]] constexpr bool stops_job(api_code c) noexcept {
    return c == api_code::invalid_authentication || c == api_code::account_disabled ||
           c == api_code::too_many_errors;
}

/// The server's limits (§4). The client's batcher and the emulator both take
/// one of these; the defaults are the API's.
struct limits {
    std::size_t messages_per_request = 10;
    std::size_t recipients_per_message = 50;
    /// The client's default cap on one request body (the job file's
    /// `limits.max_request_bytes`).
    std::size_t max_request_bytes = 10 * 1024 * 1024;
    std::size_t max_metadata = 10;
    std::size_t max_tags = 25;
    std::size_t max_metadata_and_tags_bytes = 12800;
};

/// The emulator's (and, by policy, the server's) cap on a request body:
/// beyond it the answer is HTTP 413.
inline constexpr std::size_t server_max_request_bytes = 25 * 1024 * 1024;

}  // namespace salvo::injection
