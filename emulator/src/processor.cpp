#include "processor.hpp"

#include <algorithm>
#include <optional>

namespace salvo::emulator::detail {

namespace {

using injection::api_code;

bool is_letter(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_name_char(char c) noexcept {
    return is_letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
char fold(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (fold(a[i]) != fold(b[i])) return false;
    return true;
}

// The merge fields one rendering sees: the row's first, then Global, so
// that a row value (an empty one too) overrides the Global of that name.
struct field_list {
    std::vector<field_value> fields;
    bool active = false;  // false: the message has no MergeData, nothing is rendered
};

// Checks MergeData fields: names present, no duplicates (case folded),
// string values only.
bool merge_fields_ok(const std::vector<injection::merge_field>& fs) {
    for (std::size_t i = 0; i < fs.size(); ++i) {
        if (!fs[i].value_is_string || fs[i].name.empty()) return false;
        for (std::size_t j = 0; j < i; ++j)
            if (iequals(fs[i].name, fs[j].name)) return false;
    }
    return true;
}

const injection::merge_field* find_field(const std::vector<injection::merge_field>& fs,
                                         std::string_view name) {
    for (const auto& f : fs)
        if (iequals(f.name, name)) return &f;
    return nullptr;
}

// The content a message renders from: its own, or its stored template's.
struct content {
    std::string_view subject, text, html, amp;
};

class message_checker {
  public:
    message_checker(const options& o, std::span<const std::regex* const> rejects,
                    std::uint64_t request_number, outcome& out)
        : opts_(o), rejects_(rejects), request_number_(request_number), out_(out) {}

    // Appends a message_result when the message is not accepted whole, and
    // the emails it delivers (none when the message failed).
    void check(const injection::message& m, std::size_t index) {
        injection::message_result result{index, api_code::warning, {}};
        std::vector<recorded_email> emails;
        const auto code = evaluate(m, index, result, emails);
        if (code != api_code::success) {
            result.code = code;
            if (code != api_code::no_valid_recipients && code != api_code::warning)
                result.addresses.clear();
            out_.response.messages.push_back(std::move(result));
            if (code != api_code::warning) return;
        }
        for (auto& e : emails) out_.emails.push_back(std::move(e));
    }

  private:
    bool rejected(std::string_view address) const {
        if (!valid_address(address)) return true;
        for (const auto* re : rejects_)
            if (std::regex_search(address.begin(), address.end(), *re)) return true;
        return false;
    }

    bool render_into(std::string_view tmpl, const field_list& fl, std::string& out) {
        if (!fl.active) {
            out.assign(tmpl);
            return true;
        }
        out.clear();
        return render(tmpl, fl.fields, opts_.strict_merge, out, out_.missing_fields);
    }

    // Renders everything but the envelope recipient. False on a strict-mode
    // missing field.
    bool render_email(const injection::message& m, const content& c, const field_list& fl,
                      std::size_t index, recorded_email& e) {
        e.request = request_number_;
        e.index = index;
        bool ok = render_into(c.subject, fl, e.subject) && render_into(c.text, fl, e.text) &&
                  render_into(c.html, fl, e.html) && render_into(c.amp, fl, e.amp) &&
                  render_into(m.from.email, fl, e.from) &&
                  render_into(m.from.name, fl, e.from_name) &&
                  render_into(m.reply_to.email, fl, e.reply_to) &&
                  render_into(m.reply_to.name, fl, e.reply_to_name) &&
                  render_into(m.mailing_id, fl, e.mailing_id) &&
                  render_into(m.message_id, fl, e.message_id);
        for (const auto& h : m.custom_headers) {
            if (!ok) break;
            recorded_header rh{h.name, {}};
            ok = render_into(h.value, fl, rh.value);
            e.headers.push_back(std::move(rh));
        }
        e.charset = m.charset;
        e.api_template = m.api_template;
        for (const auto& a : m.attachments)
            e.attachments.push_back({a.name, a.content_type, a.content_id,
                                     static_cast<std::size_t>(base64_decoded_size(a.content))});
        for (const auto& md : m.metadata) e.metadata.push_back({md.name, md.value});
        e.tags = m.tags;
        return ok;
    }

    api_code evaluate(const injection::message& m, std::size_t index,
                      injection::message_result& result, std::vector<recorded_email>& emails) {
        // MergeData structure first: a bad row taints the whole message.
        if (!merge_fields_ok(m.global)) return api_code::invalid_merge_data;
        for (const auto& row : m.per_message) {
            if (!merge_fields_ok(row)) return api_code::invalid_merge_data;
            if (!find_field(row, "DeliveryAddress")) return api_code::invalid_merge_data;
        }

        content c{m.subject, m.text_body, m.html_body, m.amp_body};
        const bool has_body = !m.text_body.empty() || !m.html_body.empty();
        if (!m.api_template.empty()) {
            if (has_body) return api_code::message_body_conflict;
            const auto it = opts_.templates.find(m.api_template);
            if (it == opts_.templates.end()) return api_code::invalid_template_id;
            const auto& t = it->second;
            if (t.text.empty() && t.html.empty()) return api_code::template_has_no_content;
            if (c.subject.empty()) c.subject = t.subject;
            c.text = t.text;
            c.html = t.html;
            if (c.amp.empty()) c.amp = t.amp;
        } else if (!has_body) {
            return api_code::no_valid_body_parts;
        }
        if (c.subject.empty()) return api_code::empty_subject;
        if (m.from.email.empty()) return api_code::invalid_from;
        if (m.to.empty()) return api_code::empty_to_address;

        std::size_t size = c.subject.size() + c.text.size() + c.html.size() + c.amp.size();
        for (const auto& a : m.attachments) {
            if (a.name.empty() || a.content.empty() || base64_decoded_size(a.content) < 0)
                return api_code::invalid_attachment;
            for (const auto& h : a.headers)
                if (h.name.empty() || h.value.empty()) return api_code::invalid_attachment;
            size += a.content.size();
        }
        for (const auto& h : m.custom_headers) size += h.name.size() + h.value.size();

        std::size_t meta_bytes = 0;
        for (const auto& md : m.metadata) meta_bytes += md.name.size() + md.value.size();
        for (const auto& t : m.tags) meta_bytes += t.size();
        if (m.metadata.size() > opts_.limits.max_metadata ||
            m.tags.size() > opts_.limits.max_tags ||
            meta_bytes > opts_.limits.max_metadata_and_tags_bytes)
            return api_code::metadata_or_tags_are_too_large;
        if (size > opts_.max_message_bytes) return api_code::message_too_large;

        field_list fl;
        fl.active = !m.per_message.empty() || !m.global.empty();
        std::size_t delivered = 0;

        if (m.per_message.empty()) {
            for (const auto& g : m.global) fl.fields.push_back({g.name, g.value});
            recorded_email proto;
            const auto missing_before = out_.missing_fields;
            if (!render_email(m, c, fl, index, proto)) return api_code::invalid_merge_data;
            const auto missing_per_email = out_.missing_fields - missing_before;
            if (!valid_address(proto.from)) return api_code::invalid_from;
            auto deliver = [&](const std::vector<injection::address>& list) {
                for (const auto& a : list) {
                    recorded_email e = proto;
                    if (!render_into(a.email, fl, e.to) || !render_into(a.name, fl, e.to_name))
                        return false;
                    if (rejected(e.to)) {
                        result.addresses.push_back({e.to, api_code::invalid_address});
                        out_.refused.push_back(std::move(e));
                        continue;
                    }
                    emails.push_back(std::move(e));
                    ++delivered;
                }
                return true;
            };
            if (!deliver(m.to) || !deliver(m.cc) || !deliver(m.bcc))
                return api_code::invalid_merge_data;
            // Counted per delivered email, as for merge rows.
            out_.missing_fields += missing_per_email * delivered;
            out_.missing_fields -= missing_per_email;
        } else {
            for (const auto& row : m.per_message) {
                fl.fields.clear();
                for (const auto& f : row) fl.fields.push_back({f.name, f.value});
                for (const auto& g : m.global) fl.fields.push_back({g.name, g.value});
                recorded_email e;
                if (!render_email(m, c, fl, index, e)) return api_code::invalid_merge_data;
                if (!valid_address(e.from)) return api_code::invalid_from;
                // To is display only: its first entry names the recipient.
                std::string ignored;
                if (!render_into(m.to.front().name, fl, e.to_name) ||
                    !render_into(m.to.front().email, fl, ignored))
                    return api_code::invalid_merge_data;
                e.to = find_field(row, "DeliveryAddress")->value;
                if (rejected(e.to)) {
                    result.addresses.push_back({e.to, api_code::invalid_address});
                    out_.refused.push_back(std::move(e));
                    continue;
                }
                emails.push_back(std::move(e));
                ++delivered;
            }
        }
        if (delivered == 0) {
            emails.clear();
            return api_code::no_valid_recipients;
        }
        return result.addresses.empty() ? api_code::success : api_code::warning;
    }

    const options& opts_;
    std::span<const std::regex* const> rejects_;
    std::uint64_t request_number_;
    outcome& out_;
};

std::string_view bearer_token(std::string_view authorization) noexcept {
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size() ||
        !iequals(authorization.substr(0, scheme.size()), scheme))
        return {};
    auto token = authorization.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    return token;
}

}  // namespace

bool valid_address(std::string_view a) noexcept {
    if (a.empty() || a.size() > 320) return false;
    std::size_t at = std::string_view::npos;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto c = static_cast<unsigned char>(a[i]);
        if (c < 0x20 || c == 0x7F || c == ',' || c == ';' || c == ' ') return false;
        if (c == '@') {
            if (at != std::string_view::npos) return false;
            at = i;
        }
    }
    return at != std::string_view::npos && at > 0 && at + 1 < a.size();
}

bool bearer_key_shape(std::string_view k) noexcept {
    if (k.size() != 61 || k[20] != '.') return false;
    return std::none_of(k.begin(), k.end(), [](char c) { return c == ' ' || c == '\t'; });
}

long long base64_decoded_size(std::string_view s) noexcept {
    long long chars = 0;
    int pad = 0;
    for (const char c : s) {
        if (c == '\r' || c == '\n') continue;
        if (c == '=') {
            ++pad;
            continue;
        }
        const bool ok = is_letter(c) || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok || pad > 0) return -1;
        ++chars;
    }
    if (pad > 2 || (chars + pad) % 4 != 0) return -1;
    return (chars + pad) / 4 * 3 - pad;
}

bool render(std::string_view tmpl, std::span<const field_value> fields, bool strict,
            std::string& out, std::size_t& missing) {
    std::size_t i = 0;
    while (i < tmpl.size()) {
        const auto p = tmpl.find("%%", i);
        if (p == std::string_view::npos) {
            out.append(tmpl.substr(i));
            break;
        }
        out.append(tmpl.substr(i, p - i));
        const auto start = p + 2;
        if (start < tmpl.size() && is_letter(tmpl[start])) {
            auto end = start + 1;
            while (end < tmpl.size() && is_name_char(tmpl[end])) ++end;
            if (end + 1 < tmpl.size() && tmpl[end] == '%' && tmpl[end + 1] == '%') {
                const auto name = tmpl.substr(start, end - start);
                const auto it =
                    std::find_if(fields.begin(), fields.end(),
                                 [&](const field_value& f) { return iequals(f.name, name); });
                if (it != fields.end()) {
                    out.append(it->value);
                } else if (strict) {
                    return false;
                } else {
                    ++missing;
                }
                i = end + 2;
                continue;
            }
        }
        // Not a placeholder: this '%' is literal; the next one may open one.
        out += '%';
        i = p + 1;
    }
    return true;
}

outcome process(const options& opts, std::span<const std::regex* const> rejects,
                injection::request_reader& reader, std::string_view body,
                std::string_view authorization, std::uint64_t request_number) {
    outcome o;
    injection::request req;
    if (reader.read(body, req)) {
        o.response.code = api_code::invalid_data;
        return o;
    }
    // Credentials: the body's ApiKey, else a Bearer key of the new shape.
    std::string_view key = req.api_key;
    if (key.empty()) {
        const auto token = bearer_token(authorization);
        if (bearer_key_shape(token)) key = token;
    }
    bool authenticated = !key.empty() && !req.server_id.empty();
    if (authenticated && !opts.api_key.empty()) authenticated = key == opts.api_key;
    if (authenticated && !opts.server_id.empty()) authenticated = req.server_id == opts.server_id;
    if (!authenticated) {
        o.status = 401;
        o.response.code = api_code::invalid_authentication;
        return o;
    }

    o.messages = req.messages.size();
    const auto fail = [&](api_code c) {
        o.response.code = c;
        return o;
    };
    if (req.messages.empty()) return fail(api_code::no_messages);
    if (req.messages.size() > opts.limits.messages_per_request)
        return fail(api_code::too_many_messages);
    for (const auto& m : req.messages) {
        if (m.empty) return fail(api_code::empty_message);
        const auto recipients =
            m.per_message.empty() ? m.to.size() + m.cc.size() + m.bcc.size() : m.per_message.size();
        if (recipients > opts.limits.recipients_per_message)
            return fail(api_code::too_many_recipients);
        for (const auto& h : m.custom_headers)
            if (h.name.empty() || h.value.empty()) return fail(api_code::invalid_data);
    }

    message_checker checker(opts, rejects, request_number, o);
    for (std::size_t i = 0; i < req.messages.size(); ++i) checker.check(req.messages[i], i);

    const auto& results = o.response.messages;
    if (results.empty()) {
        o.response.code = api_code::success;
    } else if (results.size() == req.messages.size() &&
               std::all_of(results.begin(), results.end(), [](const injection::message_result& r) {
                   return r.code == api_code::no_valid_recipients;
               })) {
        o.response.code = api_code::no_valid_recipients;
    } else {
        o.response.code = api_code::warning;
    }
    return o;
}

}  // namespace salvo::emulator::detail
