#include <salvo/engine/job_config.hpp>
#include <salvo/quota/redis_url.hpp>
#include <salvo/transport/client.hpp>

#include <fmt/format.h>
#include <simdjson.h>
#include <boost/json/stream_parser.hpp>
#include <boost/url/parse.hpp>
#include <salvo/merge/suggest.hpp>
#include <salvo/store/store.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace salvo::engine {
namespace {

namespace dom = simdjson::dom;
namespace fs = std::filesystem;

// A leaf value, from the job file (json set) or from `--set` (text only).
struct leaf {
    const dom::element* json = nullptr;
    std::string_view text;

    bool from_text() const { return json == nullptr; }
};

struct parse_context {
    fs::path base_dir;
};

fs::path resolve(const parse_context& ctx, std::string_view p) {
    if (p.empty() || p == "-") return fs::path(p);
    fs::path path(p);
    // Normal form: `./job.json` with `./results.ndjson` names
    // `results.ndjson`, not `././results.ndjson`.
    return path.is_absolute() ? path : (ctx.base_dir / path).lexically_normal();
}

// A suppression database: a SQLite path as resolve() makes it, or a
// PostgreSQL URL as it is.
fs::path resolve_db(const parse_context& ctx, std::string_view p) {
    return store::is_postgresql_url(p) ? fs::path(p) : resolve(ctx, p);
}

std::optional<std::string> get_string(const leaf& v) {
    if (v.from_text()) return std::string(v.text);
    std::string_view s;
    if (v.json->get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
    return std::string(s);
}

// A scalar as text: strings as they are, numbers as written, booleans.
std::optional<std::string> get_scalar_text(const leaf& v) {
    if (v.from_text()) return std::string(v.text);
    switch (v.json->type()) {
        case dom::element_type::STRING:
            return get_string(v);
        case dom::element_type::INT64:
            return std::to_string(int64_t(*v.json));
        case dom::element_type::UINT64:
            return std::to_string(uint64_t(*v.json));
        case dom::element_type::DOUBLE: {
            std::ostringstream s;
            s << double(*v.json);
            return s.str();
        }
        case dom::element_type::BOOL:
            return bool(*v.json) ? "true" : "false";
        default:
            return std::nullopt;
    }
}

std::optional<std::size_t> get_uint(const leaf& v) {
    if (v.from_text()) {
        std::size_t n = 0;
        const auto* end = v.text.data() + v.text.size();
        auto [p, ec] = std::from_chars(v.text.data(), end, n);
        if (ec != std::errc() || p != end || v.text.empty()) return std::nullopt;
        return n;
    }
    uint64_t u = 0;
    if (v.json->get_uint64().get(u) == simdjson::SUCCESS) return static_cast<std::size_t>(u);
    return std::nullopt;
}

std::optional<double> get_number(const leaf& v) {
    if (v.from_text()) {
        const std::string s(v.text);
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) return std::nullopt;
        return d;
    }
    double d = 0;
    if (v.json->get_double().get(d) == simdjson::SUCCESS) return d;
    return std::nullopt;
}

// A duration: a number of seconds (30, 0.5) or a string with a unit
// ("500ms", "30s", "10m", "1h"; a bare number in a string is seconds).
std::optional<std::chrono::milliseconds> get_duration(const leaf& v) {
    auto text = get_scalar_text(v);
    if (!text || text->empty()) return std::nullopt;
    const std::string& t = *text;
    char* end = nullptr;
    const double n = std::strtod(t.c_str(), &end);
    if (end == t.c_str() || !(n >= 0)) return std::nullopt;
    const std::string_view unit(end);
    double scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1000;
    else if (unit == "ms")
        scale = 1;
    else if (unit == "m")
        scale = 60'000;
    else if (unit == "h")
        scale = 3'600'000;
    else
        return std::nullopt;
    const double ms = n * scale;
    if (ms > 1e12) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::optional<bool> get_bool(const leaf& v) {
    if (v.from_text()) {
        if (v.text == "true") return true;
        if (v.text == "false") return false;
        return std::nullopt;
    }
    bool b = false;
    if (v.json->get_bool().get(b) == simdjson::SUCCESS) return b;
    return std::nullopt;
}

// One settable key: its dotted path, what it expects (for messages) and how
// to set it. `set` returns false when the value has the wrong type.
struct key_def {
    std::string_view path;
    std::string_view expects;
    std::function<bool(job_config&, const leaf&, const parse_context&)> set;
};

#define SALVO_STRING(member)                                 \
    [](job_config& j, const leaf& v, const parse_context&) { \
        auto s = get_string(v);                              \
        if (!s) return false;                                \
        j.member = std::move(*s);                            \
        return true;                                         \
    }
#define SALVO_PATH(member)                                     \
    [](job_config& j, const leaf& v, const parse_context& c) { \
        auto s = get_string(v);                                \
        if (!s) return false;                                  \
        j.member = resolve(c, *s);                             \
        return true;                                           \
    }
#define SALVO_UINT(member)                                   \
    [](job_config& j, const leaf& v, const parse_context&) { \
        auto n = get_uint(v);                                \
        if (!n) return false;                                \
        j.member = *n;                                       \
        return true;                                         \
    }
#define SALVO_NUMBER(member)                                 \
    [](job_config& j, const leaf& v, const parse_context&) { \
        auto n = get_number(v);                              \
        if (!n || *n < 0) return false;                      \
        j.member = *n;                                       \
        return true;                                         \
    }
#define SALVO_BOOL(member)                                   \
    [](job_config& j, const leaf& v, const parse_context&) { \
        auto b = get_bool(v);                                \
        if (!b) return false;                                \
        j.member = *b;                                       \
        return true;                                         \
    }
#define SALVO_INLINE_TEMPLATE(member, label)                      \
    [](job_config& j, const leaf& v, const parse_context&) {      \
        auto s = get_string(v);                                   \
        if (!s) return false;                                     \
        j.member = template_text{true, {}, std::move(*s), label}; \
        return true;                                              \
    }
#define SALVO_FILE_TEMPLATE(member)                             \
    [](job_config& j, const leaf& v, const parse_context& c) {  \
        auto s = get_string(v);                                 \
        if (!s) return false;                                   \
        j.member = template_text{true, resolve(c, *s), {}, {}}; \
        return true;                                            \
    }

template <typename Enum>
std::function<bool(job_config&, const leaf&, const parse_context&)> choice(
    Enum job_config::*member, std::vector<std::pair<std::string_view, Enum>> choices) {
    return [member, choices](job_config& j, const leaf& v, const parse_context&) {
        auto s = get_string(v);
        if (!s) return false;
        for (const auto& [name, value] : choices)
            if (*s == name) {
                j.*member = value;
                return true;
            }
        return false;
    };
}

const std::vector<key_def>& key_table() {
    static const std::vector<key_def> table = {
        {"endpoint", "a URL string", SALVO_STRING(endpoint)},
        {"server_id", "a whole number (the server's id in SocketLabs), or it as a string",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_scalar_text(v);
             if (!s || (v.json && v.json->is_bool()) || s->empty() ||
                 !std::all_of(s->begin(), s->end(),
                              [](unsigned char c) { return std::isdigit(c) != 0; }))
                 return false;
             j.server_id = std::move(*s);
             return true;
         }},
        {"api_key_env", "the name of an environment variable", SALVO_STRING(api_key_env)},
        {"api_key_file", "a file path", SALVO_PATH(api_key_file)},
        {"recipients", "a file path or an object", SALVO_PATH(recipients.path)},
        {"recipients.path", "a file path (\"-\" for standard input)", SALVO_PATH(recipients.path)},
        {"recipients.format", "\"csv\", \"tsv\", \"json\" or \"ndjson\"",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s || (*s != "csv" && *s != "tsv" && *s != "json" && *s != "ndjson" &&
                        *s != "jsonl" && !s->empty()))
                 return false;
             j.recipients.format = std::move(*s);
             return true;
         }},
        {"recipients.email", "a column name", SALVO_STRING(recipients.email)},
        {"recipients.marketing_list", "a Marketing API list id (a whole number)",
         SALVO_UINT(recipients.marketing_list)},
        {"recipients.name", "a column name", SALVO_STRING(recipients.name)},
        {"recipients.encoding", "\"utf-8\", \"windows-1252\" or \"latin-1\"",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s) return false;
             std::string e = *s;
             std::transform(e.begin(), e.end(), e.begin(),
                            [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
             if (e != "utf-8" && e != "utf8" && e != "windows-1252" && e != "cp1252" &&
                 e != "latin-1" && e != "latin1" && e != "iso-8859-1")
                 return false;
             j.recipients.encoding = std::move(e);
             return true;
         }},
        {"recipients.delimiter", "one of \",\", \";\" or a tab",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s || (*s != "," && *s != ";" && *s != "\t" && *s != "tab")) return false;
             j.recipients.delimiter = *s == "tab" ? "\t" : *s;
             return true;
         }},
        {"message.from", "an address string or {\"email\", \"name\"}",
         SALVO_STRING(message.from.email)},
        {"message.from.email", "an address string", SALVO_STRING(message.from.email)},
        {"message.from.name", "a string", SALVO_STRING(message.from.name)},
        {"message.reply_to", "an address string or {\"email\", \"name\"}",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s) return false;
             j.message.reply_to = address_spec{std::move(*s), {}};
             return true;
         }},
        {"message.reply_to.email", "an address string",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s) return false;
             if (!j.message.reply_to) j.message.reply_to.emplace();
             j.message.reply_to->email = std::move(*s);
             return true;
         }},
        {"message.reply_to.name", "a string",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s) return false;
             if (!j.message.reply_to) j.message.reply_to.emplace();
             j.message.reply_to->name = std::move(*s);
             return true;
         }},
        {"message.subject", "a template string", SALVO_INLINE_TEMPLATE(message.subject, "subject")},
        {"message.subject.file", "a file path", SALVO_FILE_TEMPLATE(message.subject)},
        {"message.text", "a template string or {\"file\": …}",
         SALVO_INLINE_TEMPLATE(message.text, "text body")},
        {"message.text.file", "a file path", SALVO_FILE_TEMPLATE(message.text)},
        {"message.html", "a template string or {\"file\": …}",
         SALVO_INLINE_TEMPLATE(message.html, "html body")},
        {"message.html.file", "a file path", SALVO_FILE_TEMPLATE(message.html)},
        {"message.amp", "a template string or {\"file\": …}",
         SALVO_INLINE_TEMPLATE(message.amp, "amp body")},
        {"message.amp.file", "a file path", SALVO_FILE_TEMPLATE(message.amp)},
        {"message.mailing_id", "a template string", SALVO_STRING(message.mailing_id)},
        {"message.message_id", "a template string", SALVO_STRING(message.message_id)},
        {"message.charset", "a string", SALVO_STRING(message.charset)},
        {"unsubscribe.url", "a template string", SALVO_STRING(unsubscribe.url)},
        {"unsubscribe.mailto", "an address string", SALVO_STRING(unsubscribe.mailto)},
        {"unsubscribe.secret_env", "the name of an environment variable",
         SALVO_STRING(unsubscribe.secret_env)},
        {"unsubscribe.expiry_days", "a whole number of days (0: never)",
         SALVO_UINT(unsubscribe.expiry_days)},
        {"merge", "\"local\" or \"server\"",
         choice(&job_config::merge,
                {{"local", merge_mode::local}, {"server", merge_mode::server}})},
        {"html_escape", "true or false", SALVO_BOOL(html_escape)},
        {"missing_field", "\"empty\" or \"invalid\"",
         choice(&job_config::missing_field, {{"empty", missing_field_policy::empty},
                                             {"invalid", missing_field_policy::invalid}})},
        {"dedupe", "true or false", SALVO_BOOL(dedupe)},
        {"suppression", "a file path, {\"db\": path}, or a list of them",
         [](job_config& j, const leaf& v, const parse_context& c) {
             auto s = get_string(v);
             if (!s) return false;
             j.suppression = {{suppression_source::kind::file, resolve(c, *s)}};
             return true;
         }},
        {"suppression.file", "a file path",
         [](job_config& j, const leaf& v, const parse_context& c) {
             auto s = get_string(v);
             if (!s) return false;
             j.suppression.push_back({suppression_source::kind::file, resolve(c, *s)});
             return true;
         }},
        {"suppression.db", "the path of a salvo listen event database",
         [](job_config& j, const leaf& v, const parse_context& c) {
             auto s = get_string(v);
             if (!s) return false;
             j.suppression.push_back({suppression_source::kind::db, resolve_db(c, *s)});
             return true;
         }},
        {"limits.messages_per_request", "a whole number", SALVO_UINT(limits.messages_per_request)},
        {"limits.recipients_per_message", "a whole number",
         SALVO_UINT(limits.recipients_per_message)},
        {"limits.max_request_bytes", "a whole number", SALVO_UINT(limits.max_request_bytes)},
        {"rate.emails_per_second", "a number (0: unlimited)", SALVO_NUMBER(rate.emails_per_second)},
        {"rate.requests_per_second", "a number (0: unlimited)",
         SALVO_NUMBER(rate.requests_per_second)},
        {"rate.max_in_flight", "a whole number", SALVO_UINT(rate.max_in_flight)},
        {"rate.burst_seconds", "a number of seconds (at least one request's worth)",
         SALVO_NUMBER(rate.burst_seconds)},
        {"rate.emails_per_minute", "a whole number (0: no quota)",
         SALVO_UINT(rate.emails_per_minute)},
        {"rate.emails_per_hour", "a whole number (0: no quota)", SALVO_UINT(rate.emails_per_hour)},
        {"rate.emails_per_day", "a whole number (0: no quota)", SALVO_UINT(rate.emails_per_day)},
        {"rate.adaptive", "true or false", SALVO_BOOL(rate.adaptive)},
        {"rate.shared.redis", "a redis:// or unix:// URL (no password in it)",
         SALVO_STRING(rate.shared.redis)},
        {"rate.shared.key", "a string", SALVO_STRING(rate.shared.key)},
        {"rate.shared.emails_per_second", "a number (0: no emails limit)",
         SALVO_NUMBER(rate.shared.emails_per_second)},
        {"rate.shared.requests_per_second", "a number (0: no requests limit)",
         SALVO_NUMBER(rate.shared.requests_per_second)},
        {"rate.shared.password_env", "the name of an environment variable",
         SALVO_STRING(rate.shared.password_env)},
        {"rate.shared.password_file", "a file path", SALVO_PATH(rate.shared.password_file)},
        {"rate.shared.give_up_after", "a duration: seconds, or a string such as \"30s\", \"10m\"",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto d = get_duration(v);
             if (!d || d->count() == 0) return false;
             j.rate.shared.give_up_after = *d;
             return true;
         }},
        {"retry.max_attempts", "a whole number", SALVO_UINT(retry.max_attempts)},
        {"retry.base_delay_ms", "a whole number", SALVO_UINT(retry.base_delay_ms)},
        {"retry.max_delay_ms", "a whole number", SALVO_UINT(retry.max_delay_ms)},
        {"retry.give_up_after", "a duration: seconds, or a string such as \"30s\", \"10m\"",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto d = get_duration(v);
             if (!d || d->count() == 0) return false;
             j.retry.give_up_after = *d;
             return true;
         }},
        {"retry.budget_ratio", "a number from 0 to 1",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto n = get_number(v);
             if (!n || *n < 0 || *n > 1) return false;
             j.retry.budget_ratio = *n;
             return true;
         }},
        {"retry.ambiguous", "\"resend\" or \"hold\"",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s || (*s != "resend" && *s != "hold")) return false;
             j.retry.ambiguous = *s == "hold" ? ambiguous_policy::hold : ambiguous_policy::resend;
             return true;
         }},
        {"timeouts.connect_ms", "a whole number", SALVO_UINT(timeouts.connect_ms)},
        {"timeouts.request_ms", "a whole number", SALVO_UINT(timeouts.request_ms)},
        {"tls.ca_file", "a file path", SALVO_PATH(tls.ca_file)},
        {"tls.insecure", "true or false", SALVO_BOOL(tls.insecure)},
        {"proxy", "a URL string", SALVO_STRING(proxy)},
        {"auto_pause.failure_share", "a number from 0 to 1",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto n = get_number(v);
             if (!n || *n < 0 || *n > 1) return false;
             j.auto_pause.failure_share = *n;
             return true;
         }},
        {"auto_pause.window_requests", "a whole number", SALVO_UINT(auto_pause.window_requests)},
        {"results", "a file path", SALVO_PATH(results)},
        {"journal", "a file path", SALVO_PATH(journal)},
        {"threads", "a whole number (0: automatic)", SALVO_UINT(threads)},
        {"shard", "\"K/N\", the shard K (0 to N-1) of N",
         [](job_config& j, const leaf& v, const parse_context&) {
             auto s = get_string(v);
             if (!s) return false;
             auto spec = parse_shard(*s, "shard");
             if (!spec) return false;
             j.shard = *spec;
             return true;
         }},
        {"marketing.endpoint", "a URL string", SALVO_STRING(marketing.endpoint)},
        {"marketing.api_key_env", "the name of an environment variable",
         SALVO_STRING(marketing.api_key_env)},
        {"marketing.api_key_file", "a file path", SALVO_PATH(marketing.api_key_file)},
        {"reporting.endpoint", "a URL string", SALVO_STRING(reporting.endpoint)},
        {"reporting.user", "a string", SALVO_STRING(reporting.user)},
        {"reporting.api_key_env", "the name of an environment variable",
         SALVO_STRING(reporting.api_key_env)},
        {"reporting.api_key_file", "a file path", SALVO_PATH(reporting.api_key_file)},
        {"reporting.grace_seconds", "a whole number", SALVO_UINT(reporting.grace_seconds)},
    };
    return table;
}

// The reference of every key (salvo help job-file, docs/job-file.md): its
// default and what it does. Beside key_table rather than in it so that a
// key's parsing and its documentation can be read apart; the test
// JobConfigReference.EveryKeyIsDocumented keeps the two tables together.
struct key_doc {
    std::string_view path;
    std::string_view default_value;
    std::string_view meaning;
};

constexpr key_doc key_docs[] = {
    {"endpoint", "`https://inject.socketlabs.com/api/v1/email`",
     "The Injection API URL. `salvo emulate` listens on `http://127.0.0.1:8465/api/v1/email`."},
    {"server_id", "required", "Your SocketLabs server id (a number, or a string of digits)."},
    {"api_key_env", "`SOCKETLABS_API_KEY`",
     "The environment variable holding the API key. The key is never accepted in the job file "
     "or on the command line, and never printed."},
    {"api_key_file", "none", "A file holding the API key; wins over `api_key_env`."},
    {"recipients", "required",
     "The recipients file: a path (`-` for standard input), or an object with the keys below."},
    {"recipients.path", "required", "The recipients file; `-` is standard input."},
    {"recipients.format", "from the extension",
     "`csv`, `tsv`, `json` (an array of objects) or `ndjson` (`jsonl`); `.gz` files are read "
     "compressed."},
    {"recipients.email", "`email`",
     "The column holding the address (matched without case); `DeliveryAddress` is found too."},
    {"recipients.name", "`name`", "The column holding the display name, if any."},
    {"recipients.marketing_list", "none",
     "A Marketing API contact list id to send to instead of a file (not with "
     "`recipients.path`): read page by page into a copy beside the journal; see "
     "docs/marketing-and-reporting.md."},
    {"recipients.encoding", "`utf-8`", "`utf-8`, `windows-1252` or `latin-1`."},
    {"recipients.delimiter", "from the format", "`,`, `;` or a tab (`\\t` or `tab`)."},
    {"message.from", "required",
     "The sender: an address, or `{\"email\": …, \"name\": …}`; both are templates."},
    {"message.from.email", "required", "The sender's address (a template)."},
    {"message.from.name", "none", "The sender's display name (a template)."},
    {"message.reply_to", "none", "An address, or `{\"email\": …, \"name\": …}`."},
    {"message.reply_to.email", "none", "The Reply-To address (a template)."},
    {"message.reply_to.name", "none", "The Reply-To display name (a template)."},
    {"message.subject", "required",
     "The subject template (a header: a value with a line break makes the row invalid)."},
    {"message.subject.file", "none", "The subject template, read from a file."},
    {"message.text", "one body required",
     "The plain-text body: an inline template, or `{\"file\": \"body.txt\"}`."},
    {"message.text.file", "none", "The plain-text body template, read from a file."},
    {"message.html", "one body required",
     "The HTML body: an inline template, or `{\"file\": \"body.html\"}`. Values are "
     "HTML-escaped (see `html_escape`)."},
    {"message.html.file", "none", "The HTML body template, read from a file."},
    {"message.amp", "none", "An AMP body (needs `text` or `html` as well)."},
    {"message.amp.file", "none", "The AMP body template, read from a file."},
    {"message.mailing_id", "none", "The API's MailingId (a template)."},
    {"message.message_id", "none",
     "The API's MessageId (a template); also written to each results line."},
    {"message.charset", "the API's (UTF-8)", "The message charset."},
    {"unsubscribe.url", "none",
     "Adds `List-Unsubscribe: <URL>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` "
     "(RFC 8058), per recipient (a template)."},
    {"unsubscribe.mailto", "none", "Adds a `mailto:` to `List-Unsubscribe`."},
    {"unsubscribe.secret_env", "none",
     "The environment variable holding the secret that signs `%%salvo_unsubscribe_token%%` "
     "(HMAC-SHA-256); `salvo listen --unsubscribe-secret-env` must name the same secret. "
     "Needed when a template uses the token. See docs/inbound-and-unsubscribe.md."},
    {"unsubscribe.expiry_days", "`0` (never)", "Days after which a one-click token is refused."},
    {"merge", "`local`",
     "`local`: salvo renders each message; `server`: one merge message a request, rendered by "
     "SocketLabs."},
    {"html_escape", "`true`",
     "HTML-escape values in HTML bodies (`%%name:raw%%` opts out per placeholder)."},
    {"missing_field", "`empty`",
     "`invalid`: a row whose used field is empty and has no fallback is `invalid` instead of "
     "rendered empty."},
    {"dedupe", "`true`",
     "A repeated address (domain without case) is `duplicate`. Costs 6-10 bytes of memory a "
     "distinct address (65-72 MB for 10 M) and writes each address once to an unlinked file in "
     "`$TMPDIR` (default `/tmp`), about 40 bytes an address: point `TMPDIR` at a disk with room "
     "for it, not at a tmpfs, for large lists."},
    {"suppression", "none",
     "Addresses never to send to: a file (one address a line, or a CSV with an email column), "
     "`{\"db\": \"events.sqlite\"}` (a `salvo listen` database), or a list of them."},
    {"suppression.file", "none", "A suppression file (as an object: `{\"file\": path}`)."},
    {"suppression.db", "none",
     "A `salvo listen` event database (`{\"db\": path}`), or its PostgreSQL URL "
     "(`{\"db\": \"postgresql://host/dbname\"}`; the password from PGPASSWORD or PGPASSFILE)."},
    {"limits.messages_per_request", "`10`", "Messages in one API request."},
    {"limits.recipients_per_message", "`50`", "Recipients in one message (server merge)."},
    {"limits.max_request_bytes", "`10485760` (10 MiB)", "Bytes in one API request."},
    {"rate.emails_per_second", "`0` (unlimited)", "Emails a second, at most."},
    {"rate.requests_per_second", "`0` (unlimited)", "API requests a second, at most."},
    {"rate.max_in_flight", "`16`",
     "Requests sent and not yet answered; when full, reading waits (memory stays flat)."},
    {"rate.burst_seconds", "`1`",
     "How much of a second's allowance may go out at once after a pause."},
    {"rate.emails_per_minute", "`0` (no quota)", "A quota, refilled evenly over the minute."},
    {"rate.emails_per_hour", "`0` (no quota)", "A quota, refilled evenly over the hour."},
    {"rate.emails_per_day", "`0` (no quota)", "A quota, refilled evenly over the day."},
    {"rate.adaptive", "`false`",
     "Needs a rate: halves it on 429/`OverQuota` or a spent retry budget, raises it again when "
     "quiet."},
    {"rate.shared.redis", "none (no shared quota)",
     "A quota shared with other processes through Redis: `redis://HOST:PORT/DB` or "
     "`unix:///path/redis.sock?db=N`. `rediss://` is refused (Debian 12's hiredis has no TLS), "
     "and so is a password in the URL. See docs/shared-quota.md."},
    {"rate.shared.key", "none (required with `redis`)",
     "The quota's name in Redis: the same in every process that shares the account."},
    {"rate.shared.emails_per_second", "`0` (no emails limit)",
     "Emails a second, at most, for all the processes together."},
    {"rate.shared.requests_per_second", "`0` (no requests limit)",
     "API requests a second, at most, for all the processes together."},
    {"rate.shared.password_env", "none",
     "The environment variable holding Redis' password (AUTH), if it has one."},
    {"rate.shared.password_file", "none",
     "A file holding Redis' password; wins over the variable."},
    {"rate.shared.give_up_after", "`retry.give_up_after`",
     "How long Redis may be unreachable (nothing is sent meanwhile) before the job stops with "
     "exit 3, rows pending: seconds or `\"30s\"`, `\"10m\"`."},
    {"retry.max_attempts", "`25`",
     "Attempts per request, the first included; attempts during an outage do not count."},
    {"retry.give_up_after", "`10m`",
     "How long an outage (or one request's transient failures) may last before the job stops "
     "with exit 3, rows pending: seconds (`600`) or `\"500ms\"`, `\"30s\"`, `\"10m\"`, "
     "`\"1h\"`. See docs/outages.md."},
    {"retry.budget_ratio", "`0.2`",
     "Retries beyond this share of recent requests wait (throttle); they are never refused."},
    {"retry.base_delay_ms", "`1000`",
     "Backoff base: the wait before retry *n* is random in [0, min(cap, base·2^(n−1))]."},
    {"retry.max_delay_ms", "`30000`", "Backoff cap."},
    {"retry.ambiguous", "`resend`",
     "A maybe-delivered request (sent, no answer): `resend` sends it again and marks its rows "
     "`ambiguous` in the results; `hold` leaves them `unknown`."},
    {"timeouts.connect_ms", "`10000`", "Per connection attempt."},
    {"timeouts.request_ms", "`120000`", "Per attempt, the whole transfer."},
    {"marketing.endpoint", "`https://api.socketlabs.com/marketing/v1`",
     "The Marketing API (contact lists), for `salvo lists` and `recipients.marketing_list`."},
    {"marketing.api_key_env", "`SOCKETLABS_MARKETING_API_KEY`",
     "The environment variable holding the Marketing API key (Basic auth, `server_id` as the "
     "user)."},
    {"marketing.api_key_file", "none",
     "A file holding the Marketing API key; wins over the variable."},
    {"reporting.endpoint", "`https://api.socketlabs.com/v1`",
     "The Reporting API, for `salvo reconcile`."},
    {"reporting.user", "none", "The control-panel user name (the Basic auth user)."},
    {"reporting.api_key_env", "`SOCKETLABS_REPORTING_API_KEY`",
     "The environment variable holding the Reporting API key."},
    {"reporting.api_key_file", "none",
     "A file holding the Reporting API key; wins over the variable."},
    {"reporting.grace_seconds", "`300`",
     "`salvo reconcile` counts accepted rows younger than this as pending, not missing."},
    {"tls.ca_file", "the system's CAs", "A PEM file of CAs to trust instead."},
    {"tls.insecure", "`false`", "No certificate check at all: for local test servers only."},
    {"proxy", "`\"\"`",
     "A proxy URL; empty: `https_proxy`, `http_proxy` and `no_proxy` as curl reads them."},
    {"auto_pause.failure_share", "`0.5`",
     "Stop (exit 3, resumable) when this share of the last `window_requests` requests failed."},
    {"auto_pause.window_requests", "`200`", "The window of `failure_share`."},
    {"results", "`results.ndjson`", "One JSON line per recipient row, with its fate."},
    {"journal", "`campaign.journal`",
     "What makes a run resumable; another campaign's journal is refused."},
    {"threads", "`0` (automatic)",
     "Rendering threads. `0`: every core in server mode, one less than the cores in local mode "
     "(where sending needs a core of its own)."},
    {"shard", "none (every row)",
     "`\"K/N\"`: send only shard K (0 to N−1) of N: the rows whose canonical address hashes "
     "(XXH3-64) to K mod N, and the rows without a usable address whose row number is K mod N. "
     "`results` and `journal` get `.shard-K-of-N` before their extension. Also `salvo send "
     "--shard K/N`, or `--shard-count N` with the index in `JOB_COMPLETION_INDEX`; "
     "`salvo shards report` checks the shards together. See docs/scale-out.md."},
};

// Keys the key table does not hold (maps, arrays), for the reference.
constexpr key_doc other_docs[] = {
    {"global", "none",
     "`{\"name\": \"value\"}`: values every template can use; a recipient's own column wins."},
    {"message.headers", "none", "`{\"Name\": \"template\"}`: custom headers."},
    {"message.metadata", "none", "`{\"name\": \"value\"}`: passed to the API as given."},
    {"message.tags", "none", "`[\"tag\", …]`: passed to the API as given."},
    {"message.attachments", "none",
     "`[{\"file\": …, \"name\": …, \"content_id\": …, \"content_type\": …}]`; a "
     "`content_id` makes an inline part (`<img src=\"cid:logo\">`)."},
};

#undef SALVO_STRING
#undef SALVO_PATH
#undef SALVO_UINT
#undef SALVO_NUMBER
#undef SALVO_BOOL
#undef SALVO_INLINE_TEMPLATE
#undef SALVO_FILE_TEMPLATE

// Keys that hold free-form name → value maps.
constexpr std::string_view map_keys[] = {"global", "message.headers", "message.metadata"};

bool is_map_key(std::string_view path) {
    return std::find(std::begin(map_keys), std::end(map_keys), path) != std::end(map_keys);
}

const key_def* find_key(std::string_view path) {
    for (const auto& k : key_table())
        if (k.path == path) return &k;
    return nullptr;
}

bool has_children(std::string_view path) {
    for (const auto& k : key_table())
        if (k.path.size() > path.size() && k.path.substr(0, path.size()) == path &&
            k.path[path.size()] == '.')
            return true;
    return path.empty();
}

// The keys allowed directly under `prefix`.
std::vector<std::string> known_names_under(std::string_view prefix) {
    std::vector<std::string> names;
    const auto add = [&](std::string_view full) {
        if (!prefix.empty()) {
            if (full.size() <= prefix.size() || full.substr(0, prefix.size()) != prefix ||
                full[prefix.size()] != '.')
                return;
            full.remove_prefix(prefix.size() + 1);
        }
        const std::string first(full.substr(0, full.find('.')));
        if (std::find(names.begin(), names.end(), first) == names.end()) names.push_back(first);
    };
    for (const auto& k : key_table()) add(k.path);
    for (const auto m : map_keys) add(m);
    add("message.attachments");
    add("message.tags");
    return names;
}

// The keys allowed directly under `prefix`, for "unknown key" messages.
std::string known_keys_under(std::string_view prefix) {
    std::string out;
    for (const auto& n : known_names_under(prefix)) out += (out.empty() ? "" : ", ") + n;
    return out;
}

std::string join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

std::string type_name(const dom::element& e) {
    switch (e.type()) {
        case dom::element_type::ARRAY:
            return "an array";
        case dom::element_type::OBJECT:
            return "an object";
        case dom::element_type::STRING:
            return "a string";
        case dom::element_type::BOOL:
            return "a boolean";
        case dom::element_type::NULL_VALUE:
            return "null";
        default:
            return "a number";
    }
}

class job_parser {
  public:
    job_parser(job_config& job, parse_context ctx, std::string source)
        : job_(job), ctx_(std::move(ctx)), source_(std::move(source)) {}

    std::optional<job_error> walk(const dom::object& obj, const std::string& prefix) {
        for (const auto field : obj) {
            const std::string path = join(prefix, field.key);
            if (auto e = value(field.value, path)) return e;
        }
        return std::nullopt;
    }

    std::optional<job_error> set_map_entry(const std::string& map, std::string_view name,
                                           const leaf& v) {
        const auto text = get_scalar_text(v);
        const std::string path = join(map, name);
        if (!text) return error(path, "expected a string, number or boolean");
        if (name.empty()) return error(path, "a name may not be empty");
        if (map == "global") {
            auto& g = job_.globals;
            auto it =
                std::find_if(g.begin(), g.end(), [&](const auto& f) { return f.name == name; });
            if (it != g.end())
                it->value = *text;
            else
                g.push_back({std::string(name), *text});
            return std::nullopt;
        }
        auto& list = map == "message.headers" ? job_.message.headers : job_.message.metadata;
        auto it =
            std::find_if(list.begin(), list.end(), [&](const auto& f) { return f.first == name; });
        if (it != list.end())
            it->second = *text;
        else
            list.emplace_back(std::string(name), *text);
        return std::nullopt;
    }

    std::optional<job_error> set_leaf(const std::string& path, const leaf& v) {
        const key_def* k = find_key(path);
        if (!k && has_children(path)) {  // e.g. "limits": 5
            const std::string got = v.json ? type_name(*v.json) : "'" + std::string(v.text) + "'";
            return error(path,
                         "expected an object (keys: " + known_keys_under(path) + "), got " + got);
        }
        if (!k) return unknown(path);
        if (!k->set(job_, v, ctx_)) {
            std::string got;
            std::string_view text;
            if (v.json && v.json->get_string().get(text) == simdjson::SUCCESS && text.size() < 80)
                got = ", got \"" + std::string(text) + "\"";
            else if (v.json)
                got = ", got " + type_name(*v.json);
            else
                got = ", got '" + std::string(v.text) + "'";
            return error(path, "expected " + std::string(k->expects) + got);
        }
        return std::nullopt;
    }

    std::optional<job_error> error(const std::string& key, const std::string& what) const {
        return job_error{key, source_ + ": " + key + ": " + what};
    }

  private:
    std::optional<job_error> unknown(const std::string& path) const {
        const auto dot = path.rfind('.');
        const std::string parent = dot == std::string::npos ? "" : path.substr(0, dot);
        const std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
        std::string msg = "unknown key";
        if (const auto near = merge::closest_name(name, known_names_under(parent)))
            msg += "; did you mean \"" + *near + "\"?";
        msg += " (known keys";
        msg += parent.empty() ? "" : " in " + parent;
        msg += ": " + known_keys_under(parent) + ")";
        // Names that other tools use for what salvo spells differently.
        static constexpr std::pair<std::string_view, std::string_view> elsewhere[] = {
            {"email_column", "recipients.email"},
            {"name_column", "recipients.name"},
            {"email", "recipients.email"},
            {"from", "message.from"},
            {"subject", "message.subject"},
            {"text", "message.text"},
            {"html", "message.html"},
            {"headers", "message.headers"},
            {"reply_to", "message.reply_to"},
            {"attachments", "message.attachments"},
            {"max_attempts", "retry.max_attempts"}};
        for (const auto& [wrong, right] : elsewhere)
            if (name == wrong && path != right)
                msg = "unknown key; salvo spells it " + std::string(right) +
                      " (every key: salvo help job-file)";
        if (path == "api_key" || path.ends_with(".api_key"))
            msg =
                "the API key is never written in the job file or on the command line; "
                "set api_key_env (an environment variable's name) or api_key_file";
        return error(path, msg);
    }

    std::optional<job_error> value(const dom::element& e, const std::string& path) {
        if (is_map_key(path)) {
            dom::object obj;
            if (e.get_object().get(obj) != simdjson::SUCCESS)
                return error(path, "expected an object of names to values, got " + type_name(e));
            for (const auto field : obj) {
                leaf v{&field.value, {}};
                if (auto err = set_map_entry(path, field.key, v)) return err;
            }
            return std::nullopt;
        }
        if (path == "message.tags") {
            dom::array arr;
            if (e.get_array().get(arr) != simdjson::SUCCESS)
                return error(path, "expected an array of strings, got " + type_name(e));
            job_.message.tags.clear();
            for (const auto item : arr) {
                std::string_view s;
                if (item.get_string().get(s) != simdjson::SUCCESS)
                    return error(path, "expected an array of strings");
                job_.message.tags.emplace_back(s);
            }
            return std::nullopt;
        }
        if (path == "message.attachments") return attachments(e, path);
        if (path == "suppression") return suppression(e, path);
        if (e.is_object()) {
            if (!has_children(path)) {
                if (find_key(path)) return set_leaf(path, leaf{&e, {}});
                return unknown(path);
            }
            return walk(dom::object(e), path);
        }
        if (e.is_null()) return std::nullopt;  // null leaves the default
        return set_leaf(path, leaf{&e, {}});
    }

    // "suppression": a path, {"db": path} / {"file": path}, or a list of them.
    std::optional<job_error> suppression(const dom::element& e, const std::string& path) {
        job_.suppression.clear();
        const auto one = [&](const dom::element& item,
                             const std::string& at) -> std::optional<job_error> {
            std::string_view s;
            if (item.get_string().get(s) == simdjson::SUCCESS) {
                job_.suppression.push_back({suppression_source::kind::file, resolve(ctx_, s)});
                return std::nullopt;
            }
            dom::object obj;
            if (item.get_object().get(obj) != simdjson::SUCCESS || obj.size() != 1)
                return error(at, "expected a file path, {\"db\": path} or {\"file\": path}, got " +
                                     type_name(item));
            for (const auto field : obj) {
                if (field.value.get_string().get(s) != simdjson::SUCCESS)
                    return error(join(at, field.key), "expected a path string");
                if (field.key == "db")
                    job_.suppression.push_back({suppression_source::kind::db, resolve_db(ctx_, s)});
                else if (field.key == "file")
                    job_.suppression.push_back({suppression_source::kind::file, resolve(ctx_, s)});
                else
                    return error(join(at, field.key), "unknown key (known keys: db, file)");
            }
            return std::nullopt;
        };
        dom::array arr;
        if (e.get_array().get(arr) != simdjson::SUCCESS) return one(e, path);
        std::size_t index = 0;
        for (const auto item : arr)
            if (auto err = one(item, path + "[" + std::to_string(index++) + "]")) return err;
        return std::nullopt;
    }

    std::optional<job_error> attachments(const dom::element& e, const std::string& path) {
        dom::array arr;
        if (e.get_array().get(arr) != simdjson::SUCCESS)
            return error(path, "expected an array of {\"file\", \"content_id\"} objects, got " +
                                   type_name(e));
        job_.message.attachments.clear();
        std::size_t index = 0;
        for (const auto item : arr) {
            const std::string at = path + "[" + std::to_string(index++) + "]";
            dom::object obj;
            if (item.get_object().get(obj) != simdjson::SUCCESS)
                return error(at, "expected an object with \"file\"");
            attachment_spec a;
            for (const auto field : obj) {
                std::string_view s;
                if (field.value.get_string().get(s) != simdjson::SUCCESS)
                    return error(join(at, field.key), "expected a string");
                if (field.key == "file")
                    a.file = resolve(ctx_, s);
                else if (field.key == "content_id")
                    a.content_id = s;
                else if (field.key == "name")
                    a.name = s;
                else if (field.key == "content_type")
                    a.content_type = s;
                else
                    return error(join(at, field.key),
                                 "unknown key (known keys: file, name, content_id, content_type)");
            }
            if (a.file.empty()) return error(at, "an attachment needs \"file\"");
            if (a.name.empty()) a.name = a.file.filename().string();
            job_.message.attachments.push_back(std::move(a));
        }
        return std::nullopt;
    }

    job_config& job_;
    parse_context ctx_;
    std::string source_;
};

std::optional<job_error> read_template_file(template_text& t, const std::string& key,
                                            const std::string& source) {
    if (!t.present || t.file.empty()) return std::nullopt;
    std::ifstream in(t.file, std::ios::binary);
    if (!in)
        return job_error{
            key, source + ": " + key + ": cannot read template file '" + t.file.string() + "'"};
    std::ostringstream s;
    s << in.rdbuf();
    t.content = s.str();
    t.origin = t.file.string();
    return std::nullopt;
}

std::optional<job_error> finish(job_config& job, const std::string& source,
                                const fs::path& base_dir) {
    // The defaults of results and journal live beside the job file too.
    if (job.results.is_relative()) job.results = (base_dir / job.results).lexically_normal();
    if (job.journal.is_relative()) job.journal = (base_dir / job.journal).lexically_normal();
    const shard_spec shard = std::exchange(job.shard, shard_spec{});
    const auto need = [&](bool ok, const char* key, const char* what) -> std::optional<job_error> {
        if (ok) return std::nullopt;
        return job_error{key, source + ": " + key + ": " + what};
    };
    if (auto e = read_template_file(job.message.subject, "message.subject", source)) return e;
    if (auto e = read_template_file(job.message.text, "message.text", source)) return e;
    if (auto e = read_template_file(job.message.html, "message.html", source)) return e;
    if (auto e = read_template_file(job.message.amp, "message.amp", source)) return e;
    if (job.recipients.marketing_list != 0) {
        if (auto e = need(job.recipients.path.empty(), "recipients.marketing_list",
                          "give recipients.path or recipients.marketing_list, not both"))
            return e;
        // The list's local copy, next to the journal: what the campaign reads.
        job.recipients.path = job.journal;
        job.recipients.path += ".list-" + std::to_string(job.recipients.marketing_list) + ".ndjson";
        job.recipients.format = "ndjson";
    }
    if (auto e = need(!job.recipients.path.empty(), "recipients",
                      "is required (a file path, or {\"marketing_list\": ID})"))
        return e;
    {
        const auto url = boost::urls::parse_absolute_uri(job.endpoint);
        const bool web = url && (url->scheme_id() == boost::urls::scheme::http ||
                                 url->scheme_id() == boost::urls::scheme::https);
        if (auto e = need(web, "endpoint",
                          ("must be an http:// or https:// URL, got '" + job.endpoint +
                           "' (SocketLabs': https://inject.socketlabs.com/api/v1/email)")
                              .c_str()))
            return e;
        if (auto e = need(!url->encoded_host().empty(), "endpoint",
                          ("'" + job.endpoint + "' names no host").c_str()))
            return e;
    }
    if (auto e = need(!job.message.from.email.empty(), "message.from", "is required")) return e;
    if (auto e = need(job.message.subject.present, "message.subject", "is required")) return e;
    if (auto e = need(job.message.text.present || job.message.html.present, "message",
                      "needs \"text\" or \"html\" (or both)"))
        return e;
    if (auto e =
            need(!job.message.amp.present || job.message.text.present || job.message.html.present,
                 "message.amp", "needs \"text\" or \"html\" as well"))
        return e;
    if (auto e = need(job.limits.messages_per_request >= 1, "limits.messages_per_request",
                      "must be at least 1"))
        return e;
    if (auto e = need(job.limits.recipients_per_message >= 1, "limits.recipients_per_message",
                      "must be at least 1"))
        return e;
    if (auto e = need(job.rate.max_in_flight >= 1, "rate.max_in_flight", "must be at least 1"))
        return e;
    if (auto e = need(job.retry.max_attempts >= 1, "retry.max_attempts", "must be at least 1"))
        return e;
    {
        auto& q = job.rate.shared;
        q.present = !q.redis.empty() || !q.key.empty() || q.emails_per_second > 0 ||
                    q.requests_per_second > 0 || !q.password_env.empty() ||
                    !q.password_file.empty() || q.give_up_after.has_value();
    }
    if (job.rate.shared.present) {
        const auto& q = job.rate.shared;
        if (auto e = need(!q.redis.empty(), "rate.shared.redis",
                          "is required: the Redis that keeps the shared quota, e.g. "
                          "\"redis://127.0.0.1:6379/0\""))
            return e;
        // The message never repeats the URL: it might hold a password.
        if (auto url = quota::parse_redis_url(q.redis); !url)
            if (auto e = need(false, "rate.shared.redis", url.error().c_str())) return e;
        if (auto e = need(!q.key.empty(), "rate.shared.key",
                          "is required: the quota's name, the same in every process sharing it"))
            return e;
        if (auto e = need(q.emails_per_second > 0 || q.requests_per_second > 0, "rate.shared",
                          "needs emails_per_second or requests_per_second (or both)"))
            return e;
    }
    for (const auto& a : job.message.attachments)
        if (auto e = need(fs::is_regular_file(a.file), "message.attachments",
                          ("cannot read attachment file '" + a.file.string() + "'").c_str()))
            return e;
    if (shard.active()) apply_shard(job, shard);
    return std::nullopt;
}

// Where a JSON text stops being JSON, as " at line L, column C" (1-based,
// columns in bytes); empty when it is valid or only cut short. simdjson's
// DOM parser says what is wrong but not where, so Boost.JSON's parser, which
// stops at the first byte it cannot take, finds the place.
std::string json_error_location(std::string_view json) {
    boost::json::stream_parser p;
    boost::system::error_code ec;
    const std::size_t used = p.write_some(json.data(), json.size(), ec);
    if (!ec) {
        p.finish(ec);
        if (!ec) return {};
    }
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < std::min(used, json.size()); ++i) {
        if (json[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return " (at line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
}

// A `//` or `/*` outside strings: the hint for a JSON parse error (a URL's
// "http://" inside a string is no comment).
bool has_comment(std::string_view json) {
    bool in_string = false;
    for (std::size_t i = 0; i + 1 < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '/' && (json[i + 1] == '/' || json[i + 1] == '*')) {
            return true;
        }
    }
    return false;
}

boost::system::result<job_config, job_error> parse_job_named(std::string_view json,
                                                             const fs::path& base_dir,
                                                             std::span<const std::string> overrides,
                                                             const std::string& source) {
    dom::parser parser;
    const simdjson::padded_string padded(json);
    dom::element root;
    if (const auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
        const std::string hint = has_comment(json) ? " (comments are not allowed in JSON)" : "";
        return job_error{"", source + ": not valid JSON: " + simdjson::error_message(err) +
                                 json_error_location(json) + hint};
    }
    dom::object obj;
    if (root.get_object().get(obj) != simdjson::SUCCESS)
        return job_error{"", source + ": a job file is a JSON object, got " + type_name(root)};
    job_config job;
    job_parser p(job, parse_context{base_dir}, source);
    if (auto e = p.walk(obj, "")) return *e;
    for (const auto& o : overrides)
        if (auto e = apply_override(job, o, base_dir)) return *e;
    if (auto e = finish(job, source, base_dir)) return *e;
    return job;
}

}  // namespace

std::vector<std::string> undocumented_keys() {
    std::vector<std::string> missing;
    for (const auto& k : key_table())
        if (std::none_of(std::begin(key_docs), std::end(key_docs),
                         [&](const key_doc& d) { return d.path == k.path; }))
            missing.emplace_back(k.path);
    for (const auto& d : key_docs)
        if (!find_key(d.path)) missing.push_back(std::string(d.path) + " (documented, not a key)");
    return missing;
}

std::string job_file_reference() {
    std::string out =
        "<!-- Generated by `salvo help job-file` from engine/src/job_config.cpp; do not edit. -->\n"
        "# The job file\n\n"
        "A campaign is one JSON file (no comments). Paths in it are relative to its folder. "
        "A key is written nested (`\"retry\": {\"max_attempts\": 3}`) or, with `--set`, dotted "
        "(`--set retry.max_attempts=3`); `--set` changes a key for one run. An unknown key, a "
        "value of the wrong type, a missing template file or an unreadable recipients file "
        "stops with exit code 2 and a message naming the key or the file.\n\n"
        "The required keys are `server_id`, `recipients`, `message.from`, `message.subject` and "
        "`message.text` or `message.html`. A minimal job:\n\n"
        "```json\n"
        "{\n"
        "  \"server_id\": 12345,\n"
        "  \"recipients\": \"recipients.csv\",\n"
        "  \"message\": {\n"
        "    \"from\": \"news@example.com\",\n"
        "    \"subject\": \"Hello %%first_name|friend%%\",\n"
        "    \"html\": { \"file\": \"body.html\" }\n"
        "  }\n"
        "}\n"
        "```\n\n"
        "The API key comes from the environment variable `SOCKETLABS_API_KEY` unless "
        "`api_key_env` or `api_key_file` says otherwise.\n";
    // One table a top-level group, in the order of the key table.
    std::vector<const key_doc*> all;
    for (const auto& d : key_docs) all.push_back(&d);
    for (const auto& d : other_docs) all.push_back(&d);
    const auto group_of = [](std::string_view path) { return path.substr(0, path.find('.')); };
    std::vector<std::string_view> groups;
    for (const auto* d : all)
        if (std::find(groups.begin(), groups.end(), group_of(d->path)) == groups.end())
            groups.push_back(group_of(d->path));
    const auto cell = [](std::string_view text) {
        std::string c;
        for (const char ch : text) c += ch == '|' ? std::string("\\|") : std::string(1, ch);
        return c;
    };
    // Keys alone in their group share the first table; groups of several
    // keys (recipients, message, retry, …) have one each.
    const auto alone = [&](std::string_view g) {
        return std::count_if(all.begin(), all.end(),
                             [&](const key_doc* d) { return group_of(d->path) == g; }) == 1;
    };
    std::vector<std::string_view> sections{""};
    for (const auto g : groups)
        if (!alone(g)) sections.push_back(g);
    for (const auto section : sections) {
        out += section.empty() ? std::string("\n## Top-level keys\n")
                               : "\n## `" + std::string(section) + "`\n";
        out += "\n| key | value | default | meaning |\n|---|---|---|---|\n";
        for (const auto* d : all) {
            const auto g = group_of(d->path);
            if (section.empty() ? !alone(g) : g != section) continue;
            const key_def* k = find_key(d->path);
            const std::string expects =
                k ? std::string(k->expects)
                  : (d->path == "message.tags" || d->path == "message.attachments" ? "an array"
                                                                                   : "an object");
            out += "| `" + std::string(d->path) + "` | " + cell(expects) + " | " +
                   cell(d->default_value) + " | " + cell(d->meaning) + " |\n";
        }
    }
    return out;
}

std::optional<job_error> apply_override(job_config& job, std::string_view assignment,
                                        const fs::path& base_dir) {
    const auto eq = assignment.find('=');
    if (eq == std::string_view::npos || eq == 0)
        return job_error{std::string(assignment),
                         "--set " + std::string(assignment) + ": expected key.path=value"};
    const std::string key(assignment.substr(0, eq));
    const std::string_view text = assignment.substr(eq + 1);
    job_parser p(job, parse_context{base_dir}, "--set");
    for (const auto m : map_keys)
        if (key.size() > m.size() && key.compare(0, m.size(), m) == 0 && key[m.size()] == '.')
            return p.set_map_entry(std::string(m), std::string_view(key).substr(m.size() + 1),
                                   leaf{nullptr, text});
    if (key == "message.attachments" || key == "message.tags")
        return p.error(key, "cannot be set with --set; edit the job file");
    return p.set_leaf(key, leaf{nullptr, text});
}

boost::system::result<job_config, job_error> parse_job(std::string_view json,
                                                       const fs::path& base_dir,
                                                       std::span<const std::string> overrides) {
    return parse_job_named(json, base_dir, overrides, "job");
}

std::string shard_spec::text() const {
    return std::to_string(index) + "/" + std::to_string(count);
}

boost::system::result<shard_spec, std::string> parse_shard(std::string_view text,
                                                           std::string_view what) {
    const auto number = [](std::string_view t) -> std::optional<std::uint32_t> {
        std::uint32_t n = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
        return n;
    };
    const auto slash = text.find('/');
    const auto k = number(text.substr(0, slash));
    const auto n = slash == std::string_view::npos ? std::nullopt : number(text.substr(slash + 1));
    if (!k || !n)
        return fmt::format(
            "{}: '{}' is not a shard: give K/N, shard K (counted from 0) of N, such as 0/4", what,
            text);
    if (*n == 0)
        return fmt::format(
            "{}: '{}' has no shards (N is 0): N is how many shards split the rows, "
            "at least 1",
            what, text);
    if (*k >= *n)
        return fmt::format("{}: '{}': shard K must be below N (shards are 0 to {}); check K and N",
                           what, text, *n - 1);
    return shard_spec{*k, *n};
}

namespace {
std::string shard_tag(const shard_spec& shard) {
    return ".shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
}
}  // namespace

fs::path sharded_path(const fs::path& path, const shard_spec& shard) {
    const std::string tag = shard_tag(shard);
    fs::path out = path.parent_path() / path.stem();
    out += tag;
    out += path.extension();
    return out;
}

fs::path unsharded_path(const fs::path& path, const shard_spec& shard) {
    const std::string tag = shard_tag(shard);
    std::string name = path.filename().string();
    const auto at = name.rfind(tag);
    if (at == std::string::npos) return path;
    name.erase(at, tag.size());
    return path.parent_path() / name;
}

void apply_shard(job_config& job, const shard_spec& shard) {
    job.shard = shard;
    job.results = sharded_path(job.results, shard);
    job.journal = sharded_path(job.journal, shard);
    if (job.recipients.marketing_list != 0) {
        // The list's copy lives beside the journal: each shard has its own.
        job.recipients.path = job.journal;
        job.recipients.path += ".list-" + std::to_string(job.recipients.marketing_list) + ".ndjson";
    }
}

boost::system::result<job_config, job_error> load_job_file(const fs::path& file,
                                                           std::span<const std::string> overrides) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return job_error{file.string(), file.string() + ": cannot read the job file"};
    std::ostringstream s;
    s << in.rdbuf();
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    auto job = parse_job_named(s.str(), dir, overrides, file.string());
    if (job) job->job_file = file;
    return job;
}

boost::system::result<std::string, job_error> resolve_secret(const std::string& env,
                                                             const fs::path& file,
                                                             std::string_view key_name) {
    const auto trim = [](std::string s) {
        const auto b = s.find_first_not_of(" \t\r\n");
        const auto e = s.find_last_not_of(" \t\r\n");
        return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    const std::string prefix = key_name.empty() ? std::string() : std::string(key_name) + ".";
    if (!file.empty()) {
        const std::string k = prefix + "api_key_file";
        std::ifstream in(file, std::ios::binary);
        if (!in) return job_error{k, k + ": cannot read '" + file.string() + "'"};
        std::ostringstream s;
        s << in.rdbuf();
        std::string key = trim(s.str());
        if (key.empty()) return job_error{k, k + ": '" + file.string() + "' is empty"};
        return {boost::system::in_place_value, std::move(key)};
    }
    const std::string k = prefix + "api_key_env";
    const char* v = std::getenv(env.c_str());
    if (!v || !*v)
        return job_error{
            k, k + ": the environment variable " + env + " is not set (it holds the API key)"};
    return {boost::system::in_place_value, trim(v)};
}

boost::system::result<std::string, job_error> resolve_api_key(const job_config& job) {
    return resolve_secret(job.api_key_env, job.api_key_file, "");
}

boost::system::result<std::string, job_error> resolve_shared_quota_password(const job_config& job) {
    const auto& q = job.rate.shared;
    if (!q.password_file.empty()) {
        std::ifstream in(q.password_file, std::ios::binary);
        const std::string k = "rate.shared.password_file";
        if (!in) return job_error{k, k + ": cannot read '" + q.password_file.string() + "'"};
        std::ostringstream s;
        s << in.rdbuf();
        std::string pw = s.str();
        while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
        if (pw.empty()) return job_error{k, k + ": '" + q.password_file.string() + "' is empty"};
        return {boost::system::in_place_value, std::move(pw)};
    }
    if (q.password_env.empty()) return {boost::system::in_place_value, std::string()};
    const char* v = std::getenv(q.password_env.c_str());
    const std::string k = "rate.shared.password_env";
    if (v == nullptr || *v == '\0')
        return job_error{k, k + ": the environment variable " + q.password_env +
                                " is not set (it holds Redis' password)"};
    return {boost::system::in_place_value, std::string(v)};
}

transport::client_options transport_options(const job_config& config,
                                            std::string user_agent_version) {
    transport::client_options co;
    co.version = std::move(user_agent_version);
    co.max_in_flight = config.rate.max_in_flight;
    co.connect_timeout = std::chrono::milliseconds(config.timeouts.connect_ms);
    co.request_timeout = std::chrono::milliseconds(config.timeouts.request_ms);
    co.tls.ca_file = config.tls.ca_file.string();
    co.tls.insecure = config.tls.insecure;
    if (!config.proxy.empty()) co.proxy = config.proxy;
    co.rate.requests_per_second = config.rate.requests_per_second;
    co.rate.cost_per_second = config.rate.emails_per_second;
    co.rate.burst_seconds = config.rate.burst_seconds;
    co.rate.cost_per_minute = config.rate.emails_per_minute;
    co.rate.cost_per_hour = config.rate.emails_per_hour;
    co.rate.cost_per_day = config.rate.emails_per_day;
    co.adaptive.enabled = config.rate.adaptive;
    co.retry.max_attempts = static_cast<unsigned>(config.retry.max_attempts);
    co.retry.base = std::chrono::milliseconds(config.retry.base_delay_ms);
    co.retry.cap = std::chrono::milliseconds(config.retry.max_delay_ms);
    // Transient failures are retried until give_up_after, not a small count.
    co.retry.max_total = config.retry.give_up_after;
    co.retry.budget_ratio = config.retry.budget_ratio;
    co.circuit.give_up_after = config.retry.give_up_after;
    return co;
}

void throw_exception_from_error(const job_error& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

std::size_t pipeline_threads(const job_config& job) {
    if (job.threads > 0) return job.threads;
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    if (job.merge == merge_mode::server) return cores;
    return std::max<std::size_t>(1, cores - 1);
}

}  // namespace salvo::engine
