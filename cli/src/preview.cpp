// `salvo preview`: render the first rows of a job without sending.
#include "commands.hpp"

#include <salvo/engine/campaign.hpp>
#include <salvo/engine/validate.hpp>
#include <salvo/merge/escape.hpp>
#include <salvo/platform/unsubscribe_token.hpp>
#include <salvo/transport/call.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace salvo::cli {
namespace fs = std::filesystem;

namespace {

// Expansions come JSON-escaped (they go into a request body); a person
// wants to read them plain.
std::string render(const merge::compiled_template& t, merge::row_view row, std::string& error) {
    std::string json;
    if (const auto e = t.expand(row, json)) {
        error = t.describe(*e);
        return {};
    }
    std::string plain;
    if (!merge::json_unescape(json, plain)) return json;
    return plain;
}

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// An RFC 2047 encoded word for a header value that is not plain ASCII; a
// header never carries raw UTF-8 (RFC 5322). Long values become several
// words of whole UTF-8 characters, each at most 75 characters.
std::string encode_header_text(std::string_view text) {
    if (is_ascii(text)) return std::string(text);
    std::string out;
    constexpr std::size_t chunk = 45;  // 60 base64 characters a word
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = std::min(chunk, text.size() - i);
        while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80)
            --n;  // never split a character
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?" + transport::base64_encode(text.substr(i, n)) + "?=";
        i += n;
    }
    return out;
}

// `"Name" <email>` with quotes and backslashes in the name escaped, or an
// encoded word for a non-ASCII name (an encoded word may not be quoted).
std::string mailbox(const std::string& email, const std::string& name) {
    if (name.empty()) return email;
    if (!is_ascii(name)) return encode_header_text(name) + " <" + email + ">";
    std::string quoted;
    for (const char c : name) {
        if (c == '"' || c == '\\') quoted += '\\';
        if (c != '\r' && c != '\n') quoted += c;
    }
    return "\"" + quoted + "\" <" + email + ">";
}

// Bare LF and CR become CRLF, as RFC 5322 requires throughout a message.
std::string crlf(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            out += "\r\n";
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out += c;
        }
    }
    return out;
}

// The header fields a mail client shows and sorts by, which the API adds
// when it sends: Date (now) and a Message-ID unique to the row.
struct eml_envelope {
    std::string from, to, reply_to, subject;
    std::string domain;  // the From address's, for the Message-ID
};

// An RFC 5322 message as a mail client expects it: the bodies in
// multipart/alternative, wrapped in multipart/related with the inline parts
// (those with a Content-ID, which the HTML names as cid:…), wrapped in
// multipart/mixed with the other attachments. Each wrapper only when needed.
std::string make_eml(const injection::message_spec& spec, const eml_envelope& env,
                     const std::string& text, const std::string& html,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::uint64_t row) {
    const auto boundary = [&](std::string_view kind) {
        return fmt::format("=_salvo_{}_{}", kind, row);
    };
    const auto attachment_part = [](const auto& a, bool inline_part) {
        std::string p = "Content-Type: " + a.content_type + "; name=\"" + a.name +
                        "\"\r\nContent-Transfer-Encoding: base64\r\n";
        if (inline_part)
            p += "Content-ID: <" + a.content_id + ">\r\nContent-Disposition: inline\r\n";
        else
            p += "Content-Disposition: attachment; filename=\"" + a.name + "\"\r\n";
        p += "\r\n";
        for (std::size_t i = 0; i < a.content_base64.size(); i += 76)
            p += a.content_base64.substr(i, 76) + "\r\n";
        return p;
    };
    // Wraps `first` and the parts `more` in a multipart of `kind`.
    const auto wrap = [&](std::string_view kind, std::string_view extra, const std::string& first,
                          const std::vector<std::string>& more) {
        const std::string b = boundary(kind);
        std::string w =
            fmt::format("Content-Type: multipart/{}; boundary=\"{}\"{}\r\n\r\n", kind, b, extra);
        w += "--" + b + "\r\n" + first;
        for (const auto& p : more) w += "--" + b + "\r\n" + p;
        w += "--" + b + "--\r\n";
        return w;
    };

    std::vector<std::string> bodies;
    if (spec.text_body)
        bodies.push_back("Content-Type: text/plain; charset=utf-8\r\n\r\n" + crlf(text) + "\r\n");
    if (spec.html_body)
        bodies.push_back("Content-Type: text/html; charset=utf-8\r\n\r\n" + crlf(html) + "\r\n");
    std::string body;
    if (bodies.size() == 1) {
        body = bodies.front();
    } else if (!bodies.empty()) {
        body = wrap("alternative", "", bodies.front(), {bodies.begin() + 1, bodies.end()});
    }
    std::vector<std::string> inline_parts, attached;
    for (const auto& a : spec.attachments)
        (a.content_id.empty() ? attached : inline_parts)
            .push_back(attachment_part(a, !a.content_id.empty()));
    if (!inline_parts.empty())
        body = wrap("related", bodies.size() > 1 ? "; type=\"multipart/alternative\"" : "", body,
                    inline_parts);
    if (!attached.empty()) body = wrap("mixed", "", body, attached);

    std::string m;
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char date[64];
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &utc);
    m += std::string("Date: ") + date + "\r\n";
    m += fmt::format("Message-ID: <preview.{}.{}@{}>\r\n", row, now,
                     env.domain.empty() ? "salvo.invalid" : env.domain);
    m += "From: " + env.from + "\r\nTo: " + env.to + "\r\n";
    if (!env.reply_to.empty()) m += "Reply-To: " + env.reply_to + "\r\n";
    m += "Subject: " + encode_header_text(env.subject) + "\r\n";
    for (const auto& [k, v] : headers) m += k + ": " + encode_header_text(v) + "\r\n";
    m += "MIME-Version: 1.0\r\n";
    m += body;
    return m;
}

/// Replaces the request's "ApiKey" value with ****, and any other copy of a
/// key long enough not to be an ordinary word. A short test key ("x",
/// "test") must not turn every "x" or "test" in the recipients' text into
/// ****: the body printed is the one that would be sent, key aside.
void redact_api_key(std::string& body, const std::string& key) {
    if (key == "****") return;  // no key: the writer already wrote ****
    constexpr std::string_view member = "\"ApiKey\":\"";
    if (const auto at = body.find(member); at != std::string::npos) {
        const std::size_t start = at + member.size();
        std::size_t end = start;
        while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
        body.replace(start, std::min(end, body.size()) - start, "****");
    }
    constexpr std::size_t word_like = 8;
    if (key.size() < word_like) return;
    for (std::size_t at; (at = body.find(key)) != std::string::npos;)
        body.replace(at, key.size(), "****");
}

}  // namespace

int run_preview(const fs::path& job_file, const std::vector<std::string>& sets, std::size_t rows,
                const std::string& out_dir, bool request) {
    auto cfg = engine::load_job_file(job_file, sets);
    if (!cfg) {
        fmt::print(stderr, "salvo: {}\n", cfg.error().message);
        return exit_usage;
    }
    // The real key when there is one, so that the body is exactly what would
    // be sent; it is replaced by **** before anything is printed.
    std::string key = "****";
    if (auto k = engine::resolve_api_key(*cfg); k && !k->empty()) key = *k;
    auto job = prepare_rendering(std::move(*cfg), key);
    if (!job) return exit_usage;
    for (const auto& w : job->message.warnings) fmt::print(stderr, "warning: {}\n", w.message);
    if (!out_dir.empty()) {
        std::error_code ec;
        fs::create_directories(out_dir, ec);
        if (ec) {
            fmt::print(stderr, "salvo: --out {}: {}\n", out_dir, ec.message());
            return exit_usage;
        }
    }
    const auto& spec = job->message.spec;
    const bool server = job->cfg.merge == engine::merge_mode::server;
    // The built-in one-click token field, as salvo send fills it: after the
    // source's last column, in both merge modes.
    std::string token_secret, token_mailing_id;
    std::uint32_t token_expiry_day = 0;
    if (const auto& env = job->cfg.unsubscribe.secret_env; !env.empty()) {
        const char* secret = std::getenv(env.c_str());
        if (secret && *secret) {
            token_secret = secret;
            token_mailing_id = engine::campaign_mailing_id(job->cfg);
            if (job->cfg.unsubscribe.expiry_days > 0)
                token_expiry_day = platform::days_since_epoch_now() +
                                   static_cast<std::uint32_t>(job->cfg.unsubscribe.expiry_days);
        } else {
            fmt::print(stderr,
                       "note: unsubscribe.secret_env {} is not set, so %%salvo_unsubscribe_token%% "
                       "renders empty here (salvo send refuses to start without it)\n",
                       env);
        }
    }
    std::vector<std::string_view> extended;
    std::string token;
    std::string body;
    job->writer->begin_request(body);
    bool first_message = true, opened = false;
    std::size_t seen = 0, problems = 0;
    engine::chunk c;
    std::string reason;
    // With --request stdout is the request body only; row problems go to
    // stderr.
    std::FILE* const notes = request ? stderr : stdout;
    while (seen < rows) {
        auto more = job->src->next_chunk(c);
        if (!more) {
            fmt::print(stderr, "salvo: {}\n", more.error().message);
            return exit_usage;
        }
        for (std::size_t i = 0; i < c.size() && seen < rows; ++i, ++seen) {
            const auto& info = c.info(i);
            auto v = job->check->check(c, i, reason);
            if (v && *v == engine::validity::other_shard) {
                --seen;  // another shard's row: not this shard's to show
                continue;
            }
            if (!v || *v != engine::validity::valid) {
                ++problems;
                fmt::print(notes, "row {} (line {}): {}: {}\n\n", info.row, info.line,
                           v ? engine::to_string(*v) : "error", v ? reason : v.error().message);
                continue;
            }
            auto values = c.values(i);
            injection::recipient r = job->check->recipient_of(values, info.row);
            if (!token_secret.empty()) {
                token = platform::make_unsubscribe_token(token_secret, token_mailing_id, r.address,
                                                         token_expiry_day);
                extended.assign(values.begin(), values.end());
                extended.emplace_back(token);
                values = merge::row_view(extended.data(), extended.size());
                r.row = values;
            }
            std::string error;
            const std::string subject = render(spec.subject, values, error);
            const std::string text = spec.text_body ? render(*spec.text_body, values, error) : "";
            const std::string html = spec.html_body ? render(*spec.html_body, values, error) : "";
            const std::string from_email = render(spec.from.email, values, error);
            const std::string from =
                spec.from.name ? mailbox(from_email, render(*spec.from.name, values, error))
                               : from_email;
            std::string reply_to;
            if (spec.reply_to) {
                reply_to = render(spec.reply_to->email, values, error);
                if (spec.reply_to->name)
                    reply_to = mailbox(reply_to, render(*spec.reply_to->name, values, error));
            }
            std::vector<std::pair<std::string, std::string>> headers;
            for (const auto& h : spec.custom_headers)
                headers.emplace_back(h.name, render(h.value, values, error));
            if (server) {
                if (!opened) job->writer->open_merge_message(body, true);
                opened = true;
            }
            const std::size_t mark = body.size();
            const auto e = server ? job->writer->append_row(body, r, first_message)
                                  : job->writer->append_message(body, r, first_message);
            if (e || !error.empty()) {
                body.resize(mark);
                ++problems;
                fmt::print(notes, "row {} (line {}): invalid: {}\n\n", info.row, info.line,
                           e ? e->message : error);
                continue;
            }
            first_message = false;
            const std::string to = mailbox(std::string(r.address), std::string(r.name));
            if (!out_dir.empty()) {
                const fs::path file = fs::path(out_dir) / fmt::format("row-{}.eml", info.row);
                const auto at = from_email.rfind('@');
                const eml_envelope env{from, to, reply_to, subject,
                                       at == std::string::npos ? "" : from_email.substr(at + 1)};
                if (!write_text_file(file, make_eml(spec, env, text, html, headers, info.row)))
                    return exit_usage;
                fmt::print("row {}: {} -> {}\n", info.row, std::string(r.address), file.string());
            } else if (!request) {
                fmt::print("=== row {} (line {}) ===\nFrom: {}\nTo: {}\nSubject: {}\n", info.row,
                           info.line, from, to, subject);
                for (const auto& [k, val] : headers) fmt::print("{}: {}\n", k, val);
                if (spec.text_body) fmt::print("--- text ---\n{}\n", text);
                if (spec.html_body) fmt::print("--- html ---\n{}\n", html);
                fmt::print("\n");
            }
        }
        if (!*more) break;
    }
    if (request) {
        if (server && opened) job->writer->close_merge_message(body);
        job->writer->end_request(body);
        redact_api_key(body, key);
        // stdout carries the JSON body alone (`| jq` works); the rest is
        // for the person reading.
        fmt::print(stderr, "POST {}\n", job->cfg.endpoint);
        if (!job->writer->authorization().empty())
            fmt::print(stderr, "Authorization: Bearer ****\n");
        fmt::print("{}\n", body);
    }
    if (problems > 0)
        fmt::print(stderr, "salvo: {} of {} row(s) would not be sent\n", problems, seen);
    return exit_ok;
}

}  // namespace salvo::cli
