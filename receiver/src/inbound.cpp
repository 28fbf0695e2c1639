#include "inbound.hpp"

#include "attachments.hpp"
#include "handoff.hpp"

#include <salvo/httpd/session.hpp>
#include <salvo/platform/event.hpp>
#include <salvo/platform/inbound.hpp>
#include <salvo/platform/timestamp.hpp>
#include <salvo/platform/unsubscribe_token.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace salvo::receiver::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using httpd::use_tuple;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct parsed {
    reply answer;  // used when record is null
    std::unique_ptr<store::inbound_record> record;
};

std::unique_ptr<store::inbound_record> to_record(const platform::inbound_message& m,
                                                 const platform::classification& c) {
    auto r = std::make_unique<store::inbound_record>();
    r->kind = c.kind;
    r->kind_reason = c.reason;
    r->address = c.address;
    r->status = c.status;
    r->mail_from = m.mail_from.empty() ? m.from.email : m.mail_from;
    r->rcpt_to = m.rcpt_to;
    r->subject = m.subject;
    r->header_message_id = std::string(m.header("Message-ID"));
    r->mailing_id = c.mailing_id;
    r->join_ids = c.join_ids;
    if (!r->header_message_id.empty()) r->dedupe_key = r->header_message_id + " " + m.rcpt_to;
    r->raw = platform::stored_json(m);
    for (const auto& a : m.attachments)
        r->attachments.push_back({a.name, a.content_type, a.embedded, a.size, a.sha256, a.error});
    const auto now = now_ms();
    using platform::inbound_kind;
    if (!c.address.empty() &&
        (c.kind == inbound_kind::hard_bounce || c.kind == inbound_kind::soft_bounce ||
         c.kind == inbound_kind::complaint)) {
        platform::event e;
        const bool complaint = c.kind == inbound_kind::complaint;
        e.type = complaint ? platform::event_type::complaint : platform::event_type::failed;
        e.type_name = complaint ? "Complaint" : "Failed";
        if (!complaint)
            e.failure_type = c.kind == inbound_kind::hard_bounce ? platform::failure_permanent
                                                                 : platform::failure_temporary;
        e.address = c.address;
        e.time_ms = now;
        e.date_time = platform::format_iso8601(now);
        e.reason = complaint ? "ARF complaint report" : "DSN Status " + c.status;
        e.raw = std::string("{\"Source\":\"") + (complaint ? "arf" : "dsn") + "\",\"Status\":\"" +
                c.status + "\"}";
        r->as_event = std::move(e);
    }
    r->unsubscribe = c.kind == inbound_kind::unsubscribe && !c.address.empty();
    return r;
}

// Runs on the parse pool: parse, check the secret, stage and commit the
// attachments, classify.
parsed parse_post(inbound_context& c, std::string_view json,
                  const std::optional<std::filesystem::path>& file) {
    thread_local platform::inbound_parser parser;
    platform::inbound_message m;
    attachment_stage stage(c.spool, c.attachments);
    std::string reason;
    const auto ec = file ? parser.parse_file(*file, m, &stage, &reason)
                         : parser.parse(json, m, &stage, &reason);
    if (ec) return {text(http::status::bad_request, "bad inbound message: " + reason + "\n"), {}};
    if (!same_secret(m.secret_key, c.opts.secret_key))
        return {text(http::status::unauthorized, "the SecretKey does not match this endpoint's\n"),
                {}};
    if (c.opts.server_id && !m.server_id.empty() && m.server_id != *c.opts.server_id)
        return {
            text(http::status::unauthorized, "the ServerId is not the one this endpoint serves\n"),
            {}};
    if (!stage.commit())
        return {text(http::status::service_unavailable,
                     "the attachments could not be stored (is the disk full?); nothing was "
                     "kept, send the message again\n"),
                {}};
    platform::classify_options co;
    co.unsubscribe_mailto = c.opts.unsubscribe_mailto;
    return {{}, to_record(m, platform::classify(m, co))};
}

std::string_view query_param(std::string_view target, std::string_view name) noexcept {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {};
    auto rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
            pair[name.size()] == '=')
            return pair.substr(name.size() + 1);
    }
    return {};
}

std::string html_escaped(std::string_view s) {
    std::string out;
    for (const char ch : s) {
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += ch;
        }
    }
    return out;
}

reply html(http::status status, std::string_view title, std::string_view body) {
    std::string page =
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width\"><title>";
    page += title;
    page +=
        "</title></head>\n<body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">\n";
    page += body;
    page += "\n</body></html>\n";
    return {status, std::move(page), "text/html; charset=utf-8"};
}

}  // namespace

boost::system::error_code prepare_inbound_dirs(const options& opts) {
    std::error_code ec;
    std::filesystem::create_directories(opts.inbound_dir / "spool", ec);
    if (!ec) std::filesystem::create_directories(opts.inbound_dir / "attachments", ec);
    if (ec) return {ec.value(), boost::system::generic_category()};
    return {};
}

asio::awaitable<reply> inbound_post(inbound_context& c, std::string_view content_type,
                                    std::string body, std::optional<std::filesystem::path> file) {
    bump(c.m.inbound_posts);
    // Removes the spooled body however this ends.
    struct remove_file {
        const std::optional<std::filesystem::path>& f;
        ~remove_file() {
            std::error_code ec;
            if (f) std::filesystem::remove(*f, ec);
        }
    } cleanup{file};
    if (platform::format_of(content_type) == platform::body_format::form) {
        // The handshake: Type=Validation&SecretKey=…
        platform::inbound_message m;
        if (file || platform::parse_inbound_form(body, m))
            co_return text(http::status::bad_request,
                           "bad inbound post: form data that is not name=value pairs\n");
        if (!same_secret(m.secret_key, c.opts.secret_key))
            co_return text(http::status::unauthorized,
                           "the SecretKey does not match this endpoint's\n");
        if (!m.validation)
            co_return text(http::status::unsupported_media_type,
                           "inbound messages are posted as application/json; form posts are "
                           "only the Type=Validation handshake\n");
        co_return text(http::status::ok, c.opts.validation_key);
    }
    auto result = co_await asio::co_spawn(
        c.pool,
        [&c, &body, &file]() -> asio::awaitable<parsed> { co_return parse_post(c, body, file); },
        asio::use_awaitable);
    if (!result.record) co_return std::move(result.answer);
    // A human reply's JSON (SecretKey and attachment contents left out) is
    // handed on once it is committed.
    std::string reply_json;
    if (c.replies && result.record->kind == platform::inbound_kind::reply)
        reply_json = result.record->raw;
    work w;
    w.inbound = std::move(result.record);
    auto ex = co_await asio::this_coro::executor;
    auto [ec] = co_await c.w.async_commit(std::move(w), ex, use_tuple);
    if (ec)
        co_return text(http::status::service_unavailable,
                       "the message could not be stored (" + ec.message() +
                           "); nothing was kept, send it again\n");
    if (!reply_json.empty()) c.replies->add(std::move(reply_json));
    co_return text(http::status::ok, c.opts.validation_key);
}

reply unsubscribe_page(const inbound_context& c, std::string_view target) {
    const auto token = query_param(target, "t");
    const auto claims = platform::read_unsubscribe_token(c.opts.unsubscribe_secret, token,
                                                         platform::days_since_epoch_now());
    if (!claims)
        return html(http::status::bad_request, "Unsubscribe link not valid",
                    "<h1>This unsubscribe link is not valid</h1>\n<p>" +
                        html_escaped(platform::to_string(claims.error())) +
                        ". Use the unsubscribe link of a more recent email, or reply to it with "
                        "\"unsubscribe\".</p>");
    // A link scanner following this page must not unsubscribe anyone: only
    // the button's POST does.
    return html(
        http::status::ok, "Unsubscribe",
        "<h1>Unsubscribe</h1>\n<p>Stop sending email to <b>" + html_escaped(claims->address) +
            "</b>?</p>\n<form method=\"post\" action=\"/unsubscribe?t=" + html_escaped(token) +
            "\">\n<input type=\"hidden\" name=\"List-Unsubscribe\" "
            "value=\"One-Click\">\n<button type=\"submit\">Unsubscribe</button>\n</form>");
}

asio::awaitable<reply> unsubscribe_post(inbound_context& c, std::string_view target) {
    const auto token = query_param(target, "t");
    auto claims = platform::read_unsubscribe_token(c.opts.unsubscribe_secret, token,
                                                   platform::days_since_epoch_now());
    if (!claims)
        co_return text(http::status::bad_request, std::string(platform::to_string(claims.error())) +
                                                      "; nothing was recorded\n");
    // Stored as a Tracking unsubscribe event of the campaign: the same
    // address and campaign is the same event, so a repeated POST changes
    // nothing (idempotent) and `salvo status` counts it.
    platform::event e;
    e.type = platform::event_type::tracking;
    e.type_name = "Tracking";
    e.tracking_type = platform::tracking_unsubscribe;
    e.date_time = "one-click";
    e.address = std::move(claims->address);
    e.mailing_id = std::move(claims->mailing_id);
    e.raw = "{\"Source\":\"one-click\"}";
    work w;
    w.events.push_back(std::move(e));
    w.source = "one-click";
    auto ex = co_await asio::this_coro::executor;
    auto [ec] = co_await c.w.async_commit(std::move(w), ex, use_tuple);
    if (ec)
        co_return text(http::status::service_unavailable,
                       "the request could not be stored (" + ec.message() + "); try again\n");
    bump(c.m.one_click);
    co_return text(http::status::ok, "unsubscribed\n");
}

}  // namespace salvo::receiver::detail
