#pragma once
/// The two DateTime formats of Event Webhooks: RFC 1123 in form posts
/// (`Tue, 14 Aug 2018 16:35:37 GMT`) and ISO 8601 in JSON posts
/// (`2018-08-14T16:35:37.123Z`, `…+02:00`, or without an offset: UTC).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace salvo::platform {

/// Milliseconds since the Unix epoch, UTC, of an RFC 1123 date (the day
/// name is optional; zone `GMT`, `UT`, `UTC`, `Z` or `±hhmm`).
[[nodiscard]] std::optional<std::int64_t> parse_rfc1123(std::string_view s) noexcept;

/// Milliseconds since the Unix epoch, UTC, of an ISO 8601 date-time
/// (`YYYY-MM-DD` `T` or space `hh:mm[:ss[.fff…]]` then `Z`, `±hh:mm`,
/// `±hhmm` or nothing, which is taken as UTC).
[[nodiscard]] std::optional<std::int64_t> parse_iso8601(std::string_view s) noexcept;

/// Either of the two, whichever fits.
[[nodiscard]] std::optional<std::int64_t> parse_date_time(std::string_view s) noexcept;

/// `2018-08-14T16:35:37.123Z` (always milliseconds, always Z).
[[nodiscard]] std::string format_iso8601(std::int64_t ms);

}  // namespace salvo::platform
