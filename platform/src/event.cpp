// Event Webhook bodies to events: JSON (object or array) and form data.
#include "ascii.hpp"

#include <salvo/platform/error.hpp>
#include <salvo/platform/event.hpp>
#include <salvo/platform/timestamp.hpp>

#include <salvo/merge/escape.hpp>

#include <simdjson.h>

#include <array>
#include <charconv>

namespace salvo::platform {
namespace {

using detail::iequals;

constexpr std::array<std::string_view, event_type_count> type_names{
    "Queued", "Deferred", "Delivered", "Failed", "Tracking", "Complaint", "Validation", "Unknown"};

constexpr std::array<std::string_view, delivery_state_count> state_names{
    "no_event",  "queued",  "deferred",     "soft_bounced",
    "delivered", "bounced", "unsubscribed", "complained"};

int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The known fields, by what the parser does with their value.
enum class field_kind {
    type,
    date_time,
    server_id,
    secret_key,
    address,
    mailing_id,
    message_id,
    failure_type,
    failure_code,
    tracking_type,
    url,
    reason,
    response,
    other
};

field_kind kind_of(std::string_view name) noexcept {
    struct entry {
        std::string_view name;
        field_kind kind;
    };
    static constexpr std::array<entry, 13> table{{
        {"Type", field_kind::type},
        {"DateTime", field_kind::date_time},
        {"ServerId", field_kind::server_id},
        {"SecretKey", field_kind::secret_key},
        {"Address", field_kind::address},
        {"MailingId", field_kind::mailing_id},
        {"MessageId", field_kind::message_id},
        {"FailureType", field_kind::failure_type},
        {"FailureCode", field_kind::failure_code},
        {"TrackingType", field_kind::tracking_type},
        {"Url", field_kind::url},
        {"Reason", field_kind::reason},
        {"Response", field_kind::response},
    }};
    for (const auto& e : table)
        if (iequals(name, e.name)) return e.kind;
    return field_kind::other;
}

// Builds one event from its fields, whatever the encoding.
class event_builder {
  public:
    explicit event_builder(std::size_t index) : index_(index) { e_.raw = "{"; }

    // `value` is the field as text (a JSON string unescaped, a number as
    // written); `raw_value` is its JSON text for `raw`.
    boost::system::error_code add(std::string_view name, std::string_view value,
                                  std::string_view raw_value, std::string* reason) {
        const field_kind k = kind_of(name);
        if (k != field_kind::secret_key) {
            if (e_.raw.size() > 1) e_.raw += ',';
            e_.raw += '"';
            merge::append_json_escaped(e_.raw, name);
            e_.raw += "\":";
            e_.raw += raw_value;
        }
        switch (k) {
            case field_kind::type:
                e_.type_name = value;
                e_.type = event_type_named(value);
                break;
            case field_kind::date_time:
                e_.date_time = value;
                if (value.empty()) {
                    e_.time_ms.reset();
                } else if (!(e_.time_ms = parse_date_time(value))) {
                    if (reason)
                        *reason = "event " + std::to_string(index_ + 1) + ": DateTime '" +
                                  std::string(value.substr(0, 64)) +
                                  "' is neither RFC 1123 (Tue, 14 Aug 2018 16:35:37 GMT) nor ISO "
                                  "8601 (2018-08-14T16:35:37Z)";
                    return errc::bad_date_time;
                }
                break;
            case field_kind::server_id:
                e_.server_id = value;
                break;
            case field_kind::secret_key:
                e_.secret_key = value;
                break;
            case field_kind::address:
                e_.address = value;
                break;
            case field_kind::mailing_id:
                e_.mailing_id = value;
                break;
            case field_kind::message_id:
                e_.message_id = value;
                break;
            case field_kind::url:
                e_.url = value;
                break;
            case field_kind::reason:
                e_.reason = value;
                break;
            case field_kind::response:
                if (e_.reason.empty()) e_.reason = value;
                break;
            case field_kind::failure_type:
                return number(name, value, e_.failure_type, reason);
            case field_kind::failure_code:
                return number(name, value, e_.failure_code, reason);
            case field_kind::tracking_type:
                return number(name, value, e_.tracking_type, reason);
            case field_kind::other:
                break;
        }
        return {};
    }

    boost::system::error_code finish(std::vector<event>& out, std::string* reason) {
        if (e_.type_name.empty()) {
            if (reason) *reason = "event " + std::to_string(index_ + 1) + ": no Type";
            return errc::missing_type;
        }
        e_.raw += '}';
        out.push_back(std::move(e_));
        return {};
    }

  private:
    boost::system::error_code number(std::string_view name, std::string_view value,
                                     std::optional<std::int64_t>& target, std::string* reason) {
        if (value.empty()) {
            target.reset();
            return {};
        }
        std::int64_t n = 0;
        const auto r = std::from_chars(value.data(), value.data() + value.size(), n);
        if (r.ec != std::errc{} || r.ptr != value.data() + value.size()) {
            if (reason)
                *reason = "event " + std::to_string(index_ + 1) + ": " + std::string(name) + " '" +
                          std::string(value.substr(0, 32)) + "' is not a whole number";
            return errc::bad_number;
        }
        target = n;
        return {};
    }

    std::size_t index_;
    event e_;
};

}  // namespace

std::string_view to_string(event_type t) noexcept {
    return type_names[static_cast<std::size_t>(t)];
}

event_type event_type_named(std::string_view name) noexcept {
    for (std::size_t i = 0; i + 1 < type_names.size(); ++i)
        if (iequals(name, type_names[i])) return static_cast<event_type>(i);
    return event_type::unknown;
}

std::string_view to_string(delivery_state s) noexcept {
    return state_names[static_cast<std::size_t>(s)];
}

delivery_state state_of(event_type type, std::optional<std::int64_t> failure_type,
                        std::optional<std::int64_t> tracking_type) noexcept {
    switch (type) {
        case event_type::queued:
            return delivery_state::queued;
        case event_type::deferred:
            return delivery_state::deferred;
        case event_type::delivered:
            return delivery_state::delivered;
        case event_type::failed:
            return failure_type == failure_permanent || failure_type == failure_suppressed
                       ? delivery_state::bounced
                       : delivery_state::soft_bounced;
        case event_type::complaint:
            return delivery_state::complained;
        case event_type::tracking:
            return tracking_type == tracking_unsubscribe ? delivery_state::unsubscribed
                                                         : delivery_state::no_event;
        case event_type::validation:
        case event_type::unknown:
            break;
    }
    return delivery_state::no_event;
}

std::string identity_extra(const event& e) {
    const auto n = [](const std::optional<std::int64_t>& v) {
        return v ? std::to_string(*v) : std::string();
    };
    switch (e.type) {
        case event_type::tracking:
            return n(e.tracking_type) + "|" + e.url;
        case event_type::failed:
            return n(e.failure_type) + "|" + n(e.failure_code);
        case event_type::deferred:
            return e.reason;
        default:
            return {};
    }
}

std::optional<body_format> format_of(std::string_view content_type) noexcept {
    std::string_view media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
    while (!media.empty() && (media.front() == ' ' || media.front() == '\t'))
        media.remove_prefix(1);
    if (iequals(media, "application/json") || iequals(media, "text/json")) return body_format::json;
    if (media.size() > 5 && iequals(media.substr(media.size() - 5), "+json"))
        return body_format::json;
    if (iequals(media, "application/x-www-form-urlencoded")) return body_format::form;
    return std::nullopt;
}

bool form_decode(std::string_view in, std::string& out) {
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            if (i + 2 >= in.size()) return false;
            const int hi = hex(in[i + 1]);
            const int lo = hex(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += c;
        }
    }
    return true;
}

struct event_parser::impl {
    simdjson::dom::parser json;
    std::string name, value, raw;

    boost::system::error_code parse_form(std::string_view body, std::vector<event>& out,
                                         std::string* reason) {
        event_builder b(0);
        std::size_t pos = 0;
        while (pos <= body.size()) {
            auto end = body.find('&', pos);
            if (end == std::string_view::npos) end = body.size();
            const std::string_view pair = body.substr(pos, end - pos);
            pos = end + 1;
            if (pair.empty() || pair == "\r\n" || pair == "\n") {
                if (end == body.size()) break;
                continue;
            }
            const auto eq = pair.find('=');
            name.clear();
            value.clear();
            if (!form_decode(pair.substr(0, eq), name) ||
                (eq != std::string_view::npos && !form_decode(pair.substr(eq + 1), value))) {
                if (reason)
                    *reason = "bad percent-encoding in form field '" +
                              std::string(pair.substr(0, std::min<std::size_t>(eq, 40))) +
                              "' (% must be followed by two hex digits)";
                return errc::bad_percent_encoding;
            }
            if (name.empty()) {
                if (reason) *reason = "a form field has no name (expected name=value&…)";
                return errc::bad_form;
            }
            // Kept as JSON text (raw), which must be UTF-8.
            if (!simdjson::validate_utf8(name.data(), name.size()) ||
                !simdjson::validate_utf8(value.data(), value.size())) {
                if (reason) *reason = "form field is not UTF-8 once percent-decoded";
                return errc::bad_form;
            }
            raw = '"';
            merge::append_json_escaped(raw, value);
            raw += '"';
            if (auto ec = b.add(name, value, raw, reason)) return ec;
            if (end == body.size()) break;
        }
        return b.finish(out, reason);
    }

    boost::system::error_code object(simdjson::dom::object obj, std::size_t index,
                                     std::vector<event>& out, std::string* reason) {
        event_builder b(index);
        for (auto field : obj) {
            const auto v = field.value;
            std::string_view text;
            raw = simdjson::minify(v);
            switch (v.type()) {
                case simdjson::dom::element_type::STRING:
                    text = v.get_string().value_unsafe();
                    break;
                case simdjson::dom::element_type::INT64:
                case simdjson::dom::element_type::UINT64:
                case simdjson::dom::element_type::DOUBLE:
                case simdjson::dom::element_type::BOOL:
                    text = raw;
                    break;
                default:
                    text = {};
                    break;  // null, objects and arrays: in raw only
            }
            if (auto ec = b.add(field.key, text, raw, reason)) return ec;
        }
        return b.finish(out, reason);
    }

    boost::system::error_code parse_json(std::string_view body, std::vector<event>& out,
                                         std::string* reason) {
        simdjson::dom::element doc;
        if (auto err = json.parse(body.data(), body.size()).get(doc)) {
            if (reason) *reason = std::string("bad JSON: ") + simdjson::error_message(err);
            return errc::bad_json;
        }
        if (doc.is_object()) return object(doc.get_object().value_unsafe(), 0, out, reason);
        if (!doc.is_array()) {
            if (reason) *reason = "bad JSON: expected an event object or an array of them";
            return errc::bad_json;
        }
        const auto arr = doc.get_array().value_unsafe();
        if (arr.size() > max_events) {
            if (reason) *reason = "more than " + std::to_string(max_events) + " events in one body";
            return errc::too_many_events;
        }
        std::size_t index = 0;
        for (auto el : arr) {
            if (!el.is_object()) {
                if (reason)
                    *reason = "element " + std::to_string(index + 1) +
                              " of the JSON array is not an event object";
                return errc::not_an_object;
            }
            if (auto ec = object(el.get_object().value_unsafe(), index, out, reason)) return ec;
            ++index;
        }
        return {};
    }
};

event_parser::event_parser() : impl_(std::make_unique<impl>()) {}
event_parser::~event_parser() = default;
event_parser::event_parser(event_parser&&) noexcept = default;
event_parser& event_parser::operator=(event_parser&&) noexcept = default;

boost::system::error_code event_parser::parse(std::string_view body, body_format format,
                                              std::vector<event>& out, std::string* reason) {
    std::size_t first = 0;
    while (first < body.size() && (body[first] == ' ' || body[first] == '\t' ||
                                   body[first] == '\r' || body[first] == '\n'))
        ++first;
    if (first == body.size()) {
        if (reason) *reason = "the body is empty";
        return errc::empty_body;
    }
    const std::size_t before = out.size();
    const auto ec = format == body_format::json ? impl_->parse_json(body, out, reason)
                                                : impl_->parse_form(body, out, reason);
    if (ec) out.resize(before);
    return ec;
}

}  // namespace salvo::platform
