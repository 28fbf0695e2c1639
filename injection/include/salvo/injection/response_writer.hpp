#pragma once
/// The emulator's side of the wire: writes Injection API response bodies
/// exactly as INJECTION_API.md §5 shows them — PascalCase keys, exact code
/// spellings, key order as the API writes it.

#include <salvo/injection/codes.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::injection {

/// One refused address of a message (`"Accepted":false` always: accepted
/// addresses are not listed).
struct address_result {
    std::string email;  ///< as the request spelled it (after merging)
    api_code code = api_code::invalid_address;
};

/// One failed (or partly failed) message: `Index` is its 0-based position
/// in the request's `Messages`.
struct message_result {
    std::size_t index = 0;
    api_code code = api_code::warning;
    std::vector<address_result> addresses;
};

/// A whole response. With `messages` empty it is the plain form
/// `{"ErrorCode":"…","MessageResults":[],"TransactionReceipt":null}`;
/// otherwise `{"ErrorCode":"…","TransactionReceipt":null,"MessageResults":[…]}`.
struct response {
    api_code code = api_code::success;
    std::vector<message_result> messages;
};

/// Appends the JSON body of `r` to `out`. Never fails; thread-safe (pure).
void write_response(const response& r, std::string& out);

/// The body of `{"ErrorCode":"<code>","MessageResults":[],"TransactionReceipt":null}`.
[[nodiscard]] std::string response_body(api_code code);

/// Appends `s` as a JSON string literal (quotes included), escaping `"`,
/// `\` and control characters; other bytes, UTF-8 included, are copied.
void append_json_string(std::string& out, std::string_view s);

}  // namespace salvo::injection
