#pragma once
/// The emulator's side of the wire: reads an Injection API request body
/// (INJECTION_API.md §2) into a neutral in-memory form, accepting every
/// shape the official SDKs send: names matched case-insensitively
/// (PascalCase, camelCase), `ServerId` as a number or a string, and `null`,
/// `{}` and `[]` read as "absent" (C#'s empty arrays, `"ReplyTo":{}`).
/// Unknown names are ignored. The reader checks JSON shape only; the
/// contract's rules (limits, required fields, addresses) are the caller's.

#include <boost/system/error_code.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace salvo::injection {

/// Why a request body could not be read. Each maps to the API's request
/// level `InvalidData`.
enum class request_errc {
    not_json = 1,   ///< the body is not well-formed JSON (or is empty).
    not_an_object,  ///< the top-level value, a message or an item is not an object.
    wrong_type,     ///< a known field holds a value of the wrong JSON type.
};

/// The category of request_errc; its name is "salvo.injection.request".
[[nodiscard]] const boost::system::error_category& request_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(request_errc e) noexcept {
    return {static_cast<int>(e), request_category()};
}

/// `{"EmailAddress","FriendlyName"}`. An address whose both fields are
/// absent or empty is read as absent.
struct address {
    std::string email;
    std::string name;
};

/// A `{"Name","Value"}` custom header; also used for Metadata's
/// `{"Key","Value"}`.
struct name_value {
    std::string name;
    std::string value;
};

struct attachment {
    std::string name;
    std::string content;  ///< base64, as sent (not decoded here)
    std::string content_id;
    std::string content_type;
    std::vector<name_value> headers;
};

/// One `{"Field","Value"}` of MergeData. A Value that is not a string (a
/// number, an object) is kept with `value_is_string == false`, because the
/// contract answers it per message (`InvalidMergeData`), not per request.
struct merge_field {
    std::string name;
    std::string value;
    bool value_is_string = true;
};

/// One element of `Messages`. Strings that were absent, null or empty are
/// empty; lists that were absent, null or `[]` are empty.
struct message {
    std::vector<address> to, cc, bcc;
    address from;
    address reply_to;
    std::string subject, text_body, html_body, amp_body;
    std::string api_template;  ///< a number is kept in its decimal spelling
    std::string mailing_id, message_id, charset;
    std::vector<name_value> custom_headers;
    std::vector<attachment> attachments;
    /// MergeData.PerMessage: non-empty makes this a merge message.
    std::vector<std::vector<merge_field>> per_message;
    std::vector<merge_field> global;   ///< MergeData.Global
    std::vector<name_value> metadata;  ///< `{"Key","Value"}` pairs
    std::vector<std::string> tags;
    /// True when the JSON element carried no known, non-absent field at all
    /// (`{}`, `null`, or only unknown names): the API's `EmptyMessage`.
    bool empty = true;
};

/// A whole request body.
struct request {
    std::string server_id;  ///< a number is kept in its decimal spelling
    std::string api_key;
    std::vector<message> messages;
};

/// Reads request bodies. Holds a simdjson parser whose buffers are reused
/// from one body to the next, so one reader per thread: not thread-safe.
/// Allocation: the parser grows to the largest body seen; the request
/// copies every string out of it (the request owns its bytes).
class request_reader {
  public:
    request_reader();
    ~request_reader();
    request_reader(const request_reader&) = delete;
    request_reader& operator=(const request_reader&) = delete;
    request_reader(request_reader&&) noexcept;
    request_reader& operator=(request_reader&&) noexcept;

    /// Parses `body` into `out` (cleared first). On failure returns a
    /// request_errc and leaves a human description in detail(), naming the
    /// field's path ("Messages[2].To[0].EmailAddress: expected a string").
    /// The description never holds a field's value (the body may hold a key).
    [[nodiscard]] boost::system::error_code read(std::string_view body, request& out);

    /// The description of the last failure; empty after a success.
    [[nodiscard]] const std::string& detail() const noexcept { return detail_; }

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::string detail_;
};

}  // namespace salvo::injection

template <>
struct boost::system::is_error_code_enum<salvo::injection::request_errc> : std::true_type {};
