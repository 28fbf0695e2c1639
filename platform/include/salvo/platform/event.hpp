#pragma once
/// SocketLabs Event Webhook events (the Notification API, INJECTION_API.md
/// §8): their types, the fields salvo reads, the delivery state each one
/// implies, and the parser that turns a notification body into events.

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::platform {

/// The documented event types; anything else is `unknown` and is kept with
/// the name it was sent with (receivers must accept undocumented values).
enum class event_type : std::uint8_t {
    queued,
    deferred,
    delivered,
    failed,
    tracking,
    complaint,
    validation,
    unknown,
};
inline constexpr std::size_t event_type_count = 8;

/// "Queued", "Deferred", …, "Validation", "Unknown".
[[nodiscard]] std::string_view to_string(event_type t) noexcept;
/// The type named `name`, ASCII case-insensitively; `unknown` for any other.
[[nodiscard]] event_type event_type_named(std::string_view name) noexcept;

/// `FailureType` values.
inline constexpr std::int64_t failure_temporary = 0;
inline constexpr std::int64_t failure_permanent = 1;
inline constexpr std::int64_t failure_suppressed = 2;
/// `TrackingType` values.
inline constexpr std::int64_t tracking_click = 0;
inline constexpr std::int64_t tracking_open = 1;
inline constexpr std::int64_t tracking_unsubscribe = 2;

/// One event as salvo reads it. The fields salvo joins, counts or
/// suppresses by are parsed into members; every field, known or not, is in
/// `raw` (one JSON object, with `SecretKey` left out so that the secret is
/// never stored). Strings are owned copies.
struct event {
    event_type type = event_type::unknown;
    std::string type_name;  ///< `Type` as sent ("Delivered", "Bounce2", …)
    std::string date_time;  ///< `DateTime` as sent; empty when absent
    /// `DateTime` in milliseconds since the Unix epoch, UTC (RFC 1123 or
    /// ISO 8601 with or without an offset); nullopt when absent.
    std::optional<std::int64_t> time_ms;
    std::string server_id, secret_key, address, mailing_id, message_id;
    std::optional<std::int64_t> failure_type, failure_code, tracking_type;
    std::string url;     ///< Tracking `Url`
    std::string reason;  ///< `Reason` (Failed, Deferred), else `Response` (Delivered)
    std::string raw;     ///< every field but SecretKey, as one JSON object
};

/// The type-specific part of an event's identity, beside Type, MailingId,
/// MessageId, Address and DateTime: two posts that agree on all of them are
/// one event delivered twice. Tracking: TrackingType and Url; Failed:
/// FailureType and FailureCode; Deferred: the deferral code; else empty.
[[nodiscard]] std::string identity_extra(const event& e);

/// What a row's events say about it. Declared in precedence order: when a
/// row has several events, the greatest state wins whatever their order of
/// arrival (complained > unsubscribed > bounced > delivered > soft_bounced >
/// deferred > queued > no_event).
enum class delivery_state : std::uint8_t {
    no_event,
    queued,
    deferred,
    soft_bounced,
    delivered,
    bounced,
    unsubscribed,
    complained,
};
inline constexpr std::size_t delivery_state_count = 8;

/// "no_event", "queued", … as in `salvo status --json`.
[[nodiscard]] std::string_view to_string(delivery_state s) noexcept;

/// The state one event implies on its own: Queued → queued, Deferred →
/// deferred, Delivered → delivered, Failed → bounced for FailureType 1
/// (permanent) or 2 (suppressed by the platform), soft_bounced otherwise,
/// Complaint → complained, a Tracking unsubscribe → unsubscribed; opens,
/// clicks, Validation and unknown types → no_event (they change nothing).
[[nodiscard]] delivery_state state_of(event_type type, std::optional<std::int64_t> failure_type,
                                      std::optional<std::int64_t> tracking_type) noexcept;
[[nodiscard]] inline delivery_state state_of(const event& e) noexcept {
    return state_of(e.type, e.failure_type, e.tracking_type);
}

/// The two encodings the platform posts.
enum class body_format : std::uint8_t { json, form };

/// The format a `Content-Type` names (parameters and case ignored):
/// application/json (or any `+json`) and application/x-www-form-urlencoded;
/// nullopt for any other.
[[nodiscard]] std::optional<body_format> format_of(std::string_view content_type) noexcept;

/// Reads notification bodies: one JSON object, a JSON array of objects, or
/// one form-encoded event. Field names are matched ASCII
/// case-insensitively. Keeps its parsing buffers between calls, so reuse
/// one per thread; not thread-safe.
class event_parser {
  public:
    /// At most this many events in one body (a JSON array); more is an error.
    static constexpr std::size_t max_events = 10000;

    event_parser();
    ~event_parser();
    event_parser(event_parser&&) noexcept;
    event_parser& operator=(event_parser&&) noexcept;

    /// Appends the events of `body` to `out`. On error `out` is left as it
    /// was, the code says what is wrong and `reason` (when given) gets a
    /// sentence naming the event and field, fit for a 400 answer; it never
    /// quotes a SecretKey.
    [[nodiscard]] boost::system::error_code parse(std::string_view body, body_format format,
                                                  std::vector<event>& out,
                                                  std::string* reason = nullptr);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Decodes application/x-www-form-urlencoded text: `+` is a space, `%XX`
/// a byte. Appends to `out`; false on a `%` without two hex digits.
[[nodiscard]] bool form_decode(std::string_view in, std::string& out);

}  // namespace salvo::platform
