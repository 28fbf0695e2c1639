#pragma once
// The emulator's request handling without sockets: credentials, limits,
// message and address rules, server-side merge, and the emails to record.

#include <salvo/emulator/options.hpp>
#include <salvo/emulator/record.hpp>
#include <salvo/injection/request_reader.hpp>
#include <salvo/injection/response_writer.hpp>

#include <regex>
#include <span>
#include <string_view>
#include <vector>

namespace salvo::emulator::detail {

struct outcome {
    unsigned status = 200;
    injection::response response;
    std::vector<recorded_email> emails;  // to record when status is 200
    // Envelope recipients refused with InvalidAddress (to, mailing and
    // message id filled), for the Reporting API's messagesFailed.
    std::vector<recorded_email> refused;
    std::size_t messages = 0;
    std::size_t missing_fields = 0;
};

// Handles one `POST /api/v1/email` body. `rejects` are the patterns of the
// reject_address faults that hit this request. Never throws on bad input.
[[nodiscard]] outcome process(const options& opts, std::span<const std::regex* const> rejects,
                              injection::request_reader& reader, std::string_view body,
                              std::string_view authorization, std::uint64_t request_number);

// INJECTION_API.md §7: not blank, one '@', non-empty local part and domain,
// at most 320 characters, no ',' ';' or space; we add: no control characters.
[[nodiscard]] bool valid_address(std::string_view a) noexcept;

// A Bearer key's shape: 61 characters, `<20>.<40>`.
[[nodiscard]] bool bearer_key_shape(std::string_view k) noexcept;

// Decoded size of base64 text, or -1 when it is not valid base64 (line
// breaks allowed, '=' padding only at the end).
[[nodiscard]] long long base64_decoded_size(std::string_view s) noexcept;

// Renders `%%NAME%%` placeholders (NAME := letter {letter|digit|_|-},
// case-insensitive) from `fields` (first match wins); every other `%%` is
// literal. Returns false on a missing field when `strict`; counts missing
// fields otherwise (they render empty).
struct field_value {
    std::string_view name;
    std::string_view value;
};
[[nodiscard]] bool render(std::string_view tmpl, std::span<const field_value> fields, bool strict,
                          std::string& out, std::size_t& missing);

}  // namespace salvo::emulator::detail
