// Inbound API bodies to inbound_message: JSON with simdjson On Demand (so a
// 45 MB attachment is decoded straight out of the input buffer, never
// copied), and the form-encoded validation handshake.
#include "ascii.hpp"

#include <salvo/platform/error.hpp>
#include <salvo/platform/event.hpp>
#include <salvo/platform/inbound.hpp>

#include <salvo/merge/escape.hpp>

#include <simdjson.h>

#include <array>
#include <charconv>

namespace salvo::platform {
namespace {

namespace od = simdjson::ondemand;

using detail::iequals;

constexpr std::size_t report_text_limit = 256 * 1024;

bool is_report_part(std::string_view content_type) noexcept {
    const auto semi = content_type.find(';');
    auto t = content_type.substr(0, semi);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    return iequals(t, "message/delivery-status") || iequals(t, "message/feedback-report") ||
           iequals(t, "text/rfc822-headers") || iequals(t, "message/rfc822") ||
           iequals(t, "message/global-delivery-status");
}

// True for a JSON null; an error reading it is not a null (and never
// throws: simdjson_result's conversion to bool would).
bool null_value(od::value& v) noexcept {
    bool is = false;
    return v.is_null().get(is) == simdjson::SUCCESS && is;
}

// Reading failed: the reason names the field.
struct parse_error {
    std::string where;
    simdjson::error_code code;
};

class reader {
  public:
    reader(inbound_message& out, attachment_sink* sink) : m_(out), sink_(sink) {}

    simdjson::error_code top(od::object obj) {
        for (auto field : obj) {
            std::string_view key;
            if (auto e = field.unescaped_key().get(key)) return fail("a field name", e);
            od::value v;
            if (auto e = field.value().get(v)) return fail(key, e);
            simdjson::error_code e{};
            if (iequals(key, "SecretKey"))
                e = text(v, m_.secret_key);
            else if (iequals(key, "Message"))
                e = message(v);
            else if (iequals(key, "InboundMailFrom"))
                e = text(v, m_.mail_from);
            else if (iequals(key, "InboundRcptTo"))
                e = text(v, m_.rcpt_to);
            else if (iequals(key, "InboundIpAddress"))
                e = text(v, m_.ip_address);
            else if (iequals(key, "ErrorLog"))
                e = text(v, m_.error_log);
            else if (iequals(key, "SpamDetails"))
                e = text(v, m_.spam_details);
            else if (iequals(key, "ServerId"))
                e = text(v, m_.server_id);
            else if (iequals(key, "SubaccountId"))
                e = text(v, m_.subaccount_id);
            else if (iequals(key, "IpPoolId"))
                e = text(v, m_.ip_pool_id);
            else if (iequals(key, "SpamScore"))
                e = score(v);
            else
                e = keep("", key, v);
            if (e) return fail(key, e);
        }
        return simdjson::SUCCESS;
    }

    const std::string& where() const { return where_; }

  private:
    simdjson::error_code fail(std::string_view field, simdjson::error_code e) {
        if (where_.empty()) where_ = std::string(field);
        return e;
    }

    // A string field; numbers and booleans as written, null as empty.
    static simdjson::error_code text(od::value& v, std::string& out) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        switch (t) {
            case od::json_type::string: {
                std::string_view s;
                if (auto e = v.get_string().get(s)) return e;
                out.assign(s);
                return simdjson::SUCCESS;
            }
            case od::json_type::null:
                out.clear();
                return null_value(v) ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
            case od::json_type::number:
            case od::json_type::boolean: {
                std::string_view raw = v.raw_json_token();
                while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' ||
                                        raw.back() == '\r' || raw.back() == '\t'))
                    raw.remove_suffix(1);
                out.assign(raw);
                return simdjson::SUCCESS;
            }
            default:
                return simdjson::INCORRECT_TYPE;
        }
    }

    simdjson::error_code score(od::value& v) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t == od::json_type::null)
            return null_value(v) ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
        if (t == od::json_type::string) {
            // Some posts quote the number.
            std::string_view s;
            if (auto e = v.get_string().get(s)) return e;
            double d = 0;
            const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
            if (r.ec == std::errc{} && r.ptr == s.data() + s.size()) m_.spam_score = d;
            return simdjson::SUCCESS;
        }
        double d = 0;
        if (auto e = v.get_double().get(d)) return e;
        m_.spam_score = d;
        return simdjson::SUCCESS;
    }

    // An unknown field: its JSON text into `extra`.
    simdjson::error_code keep(std::string_view prefix, std::string_view key, od::value& v) {
        std::string_view json;
        if (auto e = simdjson::to_json_string(v).get(json)) return e;
        while (!json.empty() && (json.back() == ' ' || json.back() == '\n' || json.back() == '\r' ||
                                 json.back() == '\t'))
            json.remove_suffix(1);
        // On Demand does not check what it skips: an unknown value is kept
        // only once it is known to be JSON.
        thread_local simdjson::dom::parser check;
        simdjson::dom::element ignored;
        if (auto e = check.parse(json.data(), json.size()).get(ignored)) return e;
        m_.extra.pop_back();  // the closing brace
        if (m_.extra.size() > 1) m_.extra += ',';
        m_.extra += '"';
        merge::append_json_escaped(m_.extra, prefix);
        merge::append_json_escaped(m_.extra, key);
        m_.extra += "\":";
        m_.extra += json;
        m_.extra += '}';
        return simdjson::SUCCESS;
    }

    simdjson::error_code message(od::value& v) {
        if (null_value(v)) return simdjson::SUCCESS;
        od::object obj;
        if (auto e = v.get_object().get(obj)) return e;
        for (auto field : obj) {
            std::string_view key;
            if (auto e = field.unescaped_key().get(key)) return fail("Message: a field name", e);
            od::value f;
            if (auto e = field.value().get(f)) return fail(key, e);
            simdjson::error_code e{};
            if (iequals(key, "TextCharSet"))
                e = text(f, m_.text_charset);
            else if (iequals(key, "HtmlCharSet"))
                e = text(f, m_.html_charset);
            else if (iequals(key, "Subject"))
                e = text(f, m_.subject);
            else if (iequals(key, "TextBody"))
                e = text(f, m_.text_body);
            else if (iequals(key, "HtmlBody"))
                e = text(f, m_.html_body);
            else if (iequals(key, "MailingId"))
                e = text(f, m_.mailing_id);
            else if (iequals(key, "MessageId"))
                e = text(f, m_.message_id);
            else if (iequals(key, "CustomHeaders"))
                e = headers(f, m_.headers);
            else if (iequals(key, "To"))
                e = addresses(f, m_.to);
            else if (iequals(key, "Cc"))
                e = addresses(f, m_.cc);
            else if (iequals(key, "Bcc"))
                e = addresses(f, m_.bcc);
            else if (iequals(key, "ReplyTo"))
                e = addresses(f, m_.reply_to);
            else if (iequals(key, "From")) {
                std::vector<inbound_address> one;
                e = addresses(f, one);
                if (!e && !one.empty()) m_.from = std::move(one.front());
            } else if (iequals(key, "Attachments"))
                e = attachments(f, false);
            else if (iequals(key, "EmbeddedMedia"))
                e = attachments(f, true);
            else
                e = keep("Message.", key, f);
            if (e) return fail(std::string("Message.") + std::string(key), e);
        }
        return simdjson::SUCCESS;
    }

    static simdjson::error_code headers(od::value& v, std::vector<inbound_header>& out) {
        if (null_value(v)) return simdjson::SUCCESS;
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        for (auto item : arr) {
            od::object obj;
            if (auto e = item.get_object().get(obj)) return e;
            inbound_header h;
            for (auto field : obj) {
                std::string_view key;
                if (auto e = field.unescaped_key().get(key)) return e;
                od::value f;
                if (auto e = field.value().get(f)) return e;
                std::string ignored;
                simdjson::error_code e{};
                if (iequals(key, "Name"))
                    e = text(f, h.name);
                else if (iequals(key, "Value"))
                    e = text(f, h.value);
                else
                    e = text(f, ignored);
                if (e) return e;
            }
            out.push_back(std::move(h));
        }
        return simdjson::SUCCESS;
    }

    // An address object, or an array of them (null: none).
    static simdjson::error_code addresses(od::value& v, std::vector<inbound_address>& out) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t == od::json_type::null)
            return null_value(v) ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
        if (t == od::json_type::object) {
            od::object obj;
            if (auto e = v.get_object().get(obj)) return e;
            return address(obj, out);
        }
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        for (auto item : arr) {
            od::object obj;
            if (auto e = item.get_object().get(obj)) return e;
            if (auto e = address(obj, out)) return e;
        }
        return simdjson::SUCCESS;
    }

    static simdjson::error_code address(od::object& obj, std::vector<inbound_address>& out) {
        inbound_address a;
        for (auto field : obj) {
            std::string_view key;
            if (auto e = field.unescaped_key().get(key)) return e;
            od::value f;
            if (auto e = field.value().get(f)) return e;
            std::string ignored;
            simdjson::error_code e{};
            if (iequals(key, "EmailAddress"))
                e = text(f, a.email);
            else if (iequals(key, "FriendlyName"))
                e = text(f, a.name);
            else
                e = text(f, ignored);
            if (e) return e;
        }
        out.push_back(std::move(a));
        return simdjson::SUCCESS;
    }

    simdjson::error_code attachments(od::value& v, bool embedded) {
        if (null_value(v)) return simdjson::SUCCESS;
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        for (auto item : arr) {
            od::object obj;
            if (auto e = item.get_object().get(obj)) return e;
            inbound_attachment a;
            a.embedded = embedded;
            // A view into the input buffer (alive for the whole parse): the
            // content is decoded after the other fields, whatever their order.
            std::string_view content;
            for (auto field : obj) {
                std::string_view key;
                if (auto e = field.unescaped_key().get(key)) return e;
                od::value f;
                if (auto e = field.value().get(f)) return e;
                std::string ignored;
                simdjson::error_code e{};
                if (iequals(key, "Name"))
                    e = text(f, a.name);
                else if (iequals(key, "ContentType"))
                    e = text(f, a.content_type);
                else if (iequals(key, "ContentId"))
                    e = text(f, a.content_id);
                else if (iequals(key, "CustomHeaders"))
                    e = headers(f, a.headers);
                else if (iequals(key, "Content")) {
                    od::json_type t;
                    if ((e = f.type().get(t))) return e;
                    if (t == od::json_type::string) {
                        content = f.raw_json_token();
                        while (!content.empty() && content.back() != '"') content.remove_suffix(1);
                        if (content.size() < 2) return simdjson::STRING_ERROR;
                        content = content.substr(1, content.size() - 2);
                    } else if (!null_value(f)) {
                        return simdjson::INCORRECT_TYPE;
                    }
                } else
                    e = text(f, ignored);
                if (e) return e;
            }
            decode(a, content);
            m_.attachments.push_back(std::move(a));
        }
        return simdjson::SUCCESS;
    }

    struct decode_ctx {
        attachment_sink* sink;
        inbound_attachment* a;
        bool keep_text;
    };

    void decode(inbound_attachment& a, std::string_view content) {
        decode_ctx ctx{sink_, &a, is_report_part(a.content_type)};
        if (sink_) sink_->begin(a);
        std::string error;
        const auto size = decode_base64_json(
            content,
            [](void* p, const unsigned char* data, std::size_t n) {
                auto& c = *static_cast<decode_ctx*>(p);
                if (c.sink) c.sink->write(data, n);
                if (c.keep_text && c.a->text.size() < report_text_limit)
                    c.a->text.append(reinterpret_cast<const char*>(data),
                                     std::min(n, report_text_limit - c.a->text.size()));
            },
            &ctx, error);
        if (size)
            a.size = *size;
        else
            a.error = std::move(error);
        if (sink_) sink_->end(a);
    }

    inbound_message& m_;
    attachment_sink* sink_;
    std::string where_;
};

boost::system::error_code parse_padded(od::parser& parser, simdjson::padded_string_view json,
                                       inbound_message& out, attachment_sink* sink,
                                       std::string* reason) {
    out = inbound_message{};
    if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        if (reason) *reason = "the body is empty";
        return errc::empty_body;
    }
    od::document doc;
    od::object obj;
    reader r(out, sink);
    simdjson::error_code e = parser.iterate(json).get(doc);
    if (!e) e = doc.get_object().get(obj);
    if (!e) e = r.top(obj);
    if (!e) {
        // Anything after the object (3.0.1 has no document::at_end()).
        const char* loc = nullptr;
        if (doc.current_location().get(loc) == simdjson::SUCCESS) e = simdjson::TRAILING_CONTENT;
    }
    if (e) {
        if (reason)
            *reason = "the body is not a valid Inbound API message (" +
                      std::string(simdjson::error_message(e)) + ")" +
                      (r.where().empty() ? std::string() : " at field " + r.where());
        out = inbound_message{};
        return errc::bad_json;
    }
    return {};
}

}  // namespace

std::string_view inbound_message::header(std::string_view name) const noexcept {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return h.value;
    return {};
}

struct inbound_parser::impl {
    od::parser parser;
};

inbound_parser::inbound_parser() : impl_(std::make_unique<impl>()) {}
inbound_parser::~inbound_parser() = default;
inbound_parser::inbound_parser(inbound_parser&&) noexcept = default;
inbound_parser& inbound_parser::operator=(inbound_parser&&) noexcept = default;

boost::system::error_code inbound_parser::parse(std::string_view json, inbound_message& out,
                                                attachment_sink* sink, std::string* reason) {
    const simdjson::padded_string padded(json);
    return parse_padded(impl_->parser, padded, out, sink, reason);
}

boost::system::error_code inbound_parser::parse_file(const std::filesystem::path& file,
                                                     inbound_message& out, attachment_sink* sink,
                                                     std::string* reason) {
    simdjson::padded_string padded;
    if (auto e = simdjson::padded_string::load(file.string()).get(padded)) {
        if (reason)
            *reason = "cannot read the spooled body: " + std::string(simdjson::error_message(e));
        return errc::empty_body;
    }
    return parse_padded(impl_->parser, padded, out, sink, reason);
}

boost::system::error_code parse_inbound_form(std::string_view body, inbound_message& out) {
    out = inbound_message{};
    std::string name, value;
    while (!body.empty()) {
        const auto amp = body.find('&');
        const auto pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        name.clear();
        value.clear();
        if (!form_decode(pair.substr(0, eq), name) ||
            (eq != std::string_view::npos && !form_decode(pair.substr(eq + 1), value)))
            return errc::bad_percent_encoding;
        if (iequals(name, "Type"))
            out.validation = iequals(value, "Validation");
        else if (iequals(name, "SecretKey"))
            out.secret_key = value;
        else if (iequals(name, "ServerId"))
            out.server_id = value;
    }
    return {};
}

std::optional<std::uint64_t> decode_base64_json(std::string_view in, base64_out out, void* ctx,
                                                std::string& error) {
    static constexpr auto table = [] {
        std::array<signed char, 256> t{};
        for (auto& v : t) v = -1;
        const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; ++i)
            t[static_cast<unsigned char>(a[i])] = static_cast<signed char>(i);
        // URL-safe alphabet too: some producers use it.
        t[static_cast<unsigned char>('-')] = 62;
        t[static_cast<unsigned char>('_')] = 63;
        return t;
    }();
    std::array<unsigned char, 48 * 1024> buf;
    std::size_t used = 0;
    std::uint64_t total = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    int pad = 0;
    auto bad = [&](std::size_t at, const char* what) {
        error = "invalid base64 at byte " + std::to_string(at) + " of the content: " + what;
        return std::nullopt;
    };
    for (std::size_t i = 0; i < in.size(); ++i) {
        auto c = static_cast<unsigned char>(in[i]);
        if (c == '\\') {
            if (i + 1 >= in.size()) return bad(i, "a lone backslash");
            const char n = in[++i];
            if (n == 'r' || n == 'n' || n == 't') continue;
            if (n != '/') return bad(i - 1, "a JSON escape that is not part of base64");
            c = '/';
        } else if (c == ' ' || c == '\r' || c == '\n' || c == '\t') {
            continue;
        } else if (c == '=') {
            ++pad;
            continue;
        }
        if (pad > 0) return bad(i, "data after the '=' padding");
        const int v = table[c];
        if (v < 0) return bad(i, "a character outside the base64 alphabet");
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[used++] = static_cast<unsigned char>(acc >> bits);
            acc &= (1u << bits) - 1;
            if (used == buf.size()) {
                out(ctx, buf.data(), used);
                total += used;
                used = 0;
            }
        }
    }
    // 6 leftover bits (one character of a group) cannot hold a byte.
    if (bits >= 6) return bad(in.size(), "the content ends in the middle of a group");
    if (pad > 2) return bad(in.size(), "too much '=' padding");
    if (used) out(ctx, buf.data(), used);
    return total + used;
}

}  // namespace salvo::platform
