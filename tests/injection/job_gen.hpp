#pragma once
// Test helpers: random campaigns (templates using every modifier and
// fallback, literal `%`, rows with unicode, quotes, `<&>`, `%`, long values,
// field names that look like derived names), and a naive reference
// rendering of salvo's template language written from docs/templates.md's rules.

#include "merge/test_util.hpp"
#include "spec_util.hpp"
#include "wire_model.hpp"

#include <salvo/injection/message.hpp>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace salvo::injection::test {

// --- The naive reference -------------------------------------------------

inline bool ref_alpha(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
inline bool ref_name_char(char c) {
    return ref_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

inline std::string ref_transform(std::string_view v, merge::modifier mod, bool html) {
    if (mod == merge::modifier::url) return merge::test::url_encode(v);
    if (!html || mod == merge::modifier::raw) return std::string(v);
    return merge::test::html_escape(v);
}

// Renders `text` for one row; nullopt when a row value with a line break
// lands in a header context.
inline std::optional<std::string> ref_render(std::string_view text, merge::context where,
                                             bool html_escape, const merge::field_set& f,
                                             const std::vector<std::optional<std::string>>& row) {
    const bool html = where == merge::context::html && html_escape;
    std::string out;
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        if (text[i] == '%' && i + 2 < n && text[i + 1] == '%' && ref_alpha(text[i + 2])) {
            std::size_t k = i + 3;
            while (k < n && ref_name_char(text[k])) ++k;
            const auto name = text.substr(i + 2, k - i - 2);
            auto mod = merge::modifier::none;
            std::optional<std::string> fallback;
            std::size_t j = k;
            if (j < n && text[j] == ':') {
                std::size_t m = j + 1;
                while (m < n && ref_alpha(text[m])) ++m;
                mod = lower(text.substr(j + 1, m - j - 1)) == "url" ? merge::modifier::url
                                                                    : merge::modifier::raw;
                j = m;
            }
            if (j < n && text[j] == '|') {
                std::size_t m = j + 1;
                while (m < n && text[m] != '%') ++m;
                fallback = std::string(text.substr(j + 1, m - j - 1));
                j = m;
            }
            if (j + 1 < n && text[j] == '%' && text[j + 1] == '%') {
                std::optional<std::string> v;
                bool from_row = false;
                for (std::size_t c = 0; c < f.columns.size(); ++c) {
                    if (lower(f.columns[c]) != lower(name)) continue;
                    if (c < row.size() && row[c]) {
                        v = row[c];
                        from_row = true;
                    }
                    break;
                }
                if (!from_row)
                    for (const auto& g : f.globals)
                        if (lower(g.name) == lower(name)) {
                            v = g.value;
                            break;
                        }
                if (v && !v->empty()) {
                    if (where == merge::context::header &&
                        v->find_first_of("\r\n") != std::string::npos)
                        return std::nullopt;
                    out += ref_transform(*v, mod, html);
                } else if (fallback) {
                    out += ref_transform(*fallback, mod, html);
                }
                i = j + 2;
                continue;
            }
        }
        out += text[i++];
    }
    return out;
}

// --- Random campaigns ------------------------------------------------------

struct job_gen {
    std::mt19937 rng;
    std::vector<std::string> names;  // columns then globals of the current job

    explicit job_gen(unsigned seed) : rng(seed) {}

    std::size_t pick(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    }
    bool coin(int percent) { return pick(100) < static_cast<std::size_t>(percent); }

    std::string random_case(std::string s) {
        for (auto& c : s)
            if (coin(30) && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        return s;
    }

    std::string placeholder() {
        std::string p = "%%" + random_case(names[pick(names.size())]);
        const auto m = pick(4);
        if (m == 1) p += ":raw";
        if (m == 2) p += ":url";
        static const char* fallbacks[] = {"friend", "<b>&amp;", "a:b", "x|y", "\"q\"", "ü"};
        if (coin(40)) p += std::string("|") + fallbacks[pick(6)];
        return p + "%%";
    }

    std::string text(bool header) {
        static const char* literals[] = {
            "Hello ",         "50%% off", "%",    "%%",  "%%%",
            "%%First Name%%", "<&>\"'",   "ü€",   "\\",  " ",
            "a:b|c",          "100%",     "%%%%", "x%%", "%%salvo_1%%!",
            "%%s1%% %%spct%%"};
        static const char* body_only[] = {"\n", "\t", "line\r\n"};
        std::string out;
        const auto n = pick(7);
        for (std::size_t i = 0; i < n; ++i) {
            if (coin(45))
                out += placeholder();
            else if (!header && coin(15))
                out += body_only[pick(3)];
            else
                out += literals[pick(15)];
        }
        return out;
    }

    std::optional<std::string> value() {
        static const char* values[] = {"",    "Ann",         "<b>&'\"",   "ü",
                                       "50%", "%%first%%",   "a+b c/d?e", "x\\y",
                                       "%%",  "line\nbreak", "tab\there"};
        if (coin(15)) return std::nullopt;
        if (coin(5)) return std::string(300, 'L');
        return std::string(values[pick(11)]);
    }
};

// One part of a message: its source text and context.
struct part {
    std::string text;
    merge::context where = merge::context::header;
};

struct job {
    merge::field_set fields;
    std::optional<std::size_t> address_column;  ///< a column holding each row's address
    bool html_escape = true;
    part from, subject, text;
    std::optional<part> from_name, reply_to, html, amp, mailing_id, message_id, header;
    std::vector<owned_recipient> recipients;

    merge::compiled_template compile(const part& p, const char* label) const {
        return *merge::compile(p.text, fields, {p.where, html_escape, false, label});
    }

    message_spec spec() const {
        message_spec s;
        s.fields = fields;
        s.address_column = address_column;
        s.from.email = compile(from, "From address");
        if (from_name) s.from.name = compile(*from_name, "From name");
        if (reply_to) {
            s.reply_to.emplace();
            s.reply_to->email = compile(*reply_to, "ReplyTo address");
        }
        s.subject = compile(subject, "subject");
        s.text_body = compile(text, "text body");
        if (html) s.html_body = compile(*html, "html body");
        if (amp) s.amp_body = compile(*amp, "amp body");
        if (mailing_id) s.mailing_id = compile(*mailing_id, "MailingId");
        if (message_id) s.message_id = compile(*message_id, "MessageId");
        if (header) s.custom_headers.push_back({"X-Test", compile(*header, "header X-Test")});
        return s;
    }

    // The email a recipient should receive, or nullopt when it is invalid.
    std::optional<email> reference(const owned_recipient& r) const {
        if (r.address.find_first_of("\r\n") != std::string::npos ||
            r.name.find_first_of("\r\n") != std::string::npos)
            return std::nullopt;
        email e;
        e.to = r.address;
        e.to_name = r.name;
        bool ok = true;
        const auto R = [&](const std::optional<part>& p, std::string& out) {
            if (!p || !ok) return;
            auto v = ref_render(p->text, p->where, html_escape, fields, r.values);
            if (!v)
                ok = false;
            else
                out = *v;
        };
        R(from, e.from);
        R(from_name, e.from_name);
        R(reply_to, e.reply_to);
        R(subject, e.subject);
        R(text, e.text);
        R(html, e.html);
        R(amp, e.amp);
        R(mailing_id, e.mailing_id);
        R(message_id, e.message_id);
        if (header) {
            std::string v;
            R(header, v);
            if (ok && v.empty()) return std::nullopt;  // the API refuses empty header values
            e.headers.emplace_back("X-Test", v);
        }
        if (!ok) return std::nullopt;
        // What the API refuses, the writer refuses per row.
        if (!ref_is_address(e.from) || e.subject.empty() || (e.text.empty() && e.html.empty()))
            return std::nullopt;
        return e;
    }

    static bool ref_is_address(std::string_view a) {
        if (a.empty() || a.size() > 320) return false;
        std::size_t ats = 0;
        for (const char ch : a) {
            const auto c = static_cast<unsigned char>(ch);
            if (c < 0x20 || ch == ',' || ch == ';' || ch == ' ' || ch == '"' || ch == '\\')
                return false;
            ats += ch == '@';
        }
        return ats == 1 && a.front() != '@' && a.back() != '@';
    }
};

// A part that compiles: a few tries at random text, else plain text.
inline part random_part(job_gen& g, const merge::field_set& f, merge::context where,
                        bool html_escape) {
    const bool header = where == merge::context::header;
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto text = g.text(header);
        if (text.empty()) text.push_back('x');
        if (merge::compile(text, f, {where, html_escape, false, "probe"})) return {text, where};
    }
    return {"plain", where};
}

inline job random_job(job_gen& g, std::size_t max_rows = 6) {
    using merge::context;
    static const char* column_pool[] = {"first",           "Last_Name",     "code-1",
                                        "salvo_1",         "SALVO_x",       "note",
                                        "DeliveryAddress", "recipientName", "S2"};
    static const char* global_pool[] = {"Company", "first", "note", "salvo_g", "spct"};
    static const char* global_values[] = {"ACME", "<&>", "", "%%first%%", "50%"};
    job j;
    for (const auto* c : column_pool)
        if (g.coin(60)) j.fields.columns.emplace_back(c);
    if (j.fields.columns.empty()) j.fields.columns.emplace_back("first");
    // Often the address is a column too, as in a real job: templates may
    // then name it, and server mode writes it as %%DeliveryAddress%%.
    if (g.coin(50)) {
        j.address_column = j.fields.columns.size();
        j.fields.columns.emplace_back("Email");
    }
    for (const auto* name : global_pool)
        if (g.coin(40)) j.fields.globals.push_back({name, global_values[g.pick(5)]});
    g.names = j.fields.columns;
    for (const auto& gl : j.fields.globals) g.names.push_back(gl.name);
    j.html_escape = !g.coin(20);
    const auto P = [&](context c) { return random_part(g, j.fields, c, j.html_escape); };
    // A From that mostly renders to an address (values with a space or a
    // quote make the row invalid, as the API would refuse the message).
    {
        const auto name = g.names[g.pick(g.names.size())];
        const std::string froms[] = {"news@example.com", "news+%%" + name + ":url|x%%@example.com",
                                     "%%" + name + "|x%%@example.com",
                                     "a%%" + name + ":raw|b%%@x.example"};
        j.from = {froms[g.pick(4)], context::header};
    }
    j.from_name = P(context::header);
    if (g.coin(50)) j.reply_to = P(context::header);
    j.subject = P(context::header);
    j.text = P(context::text);
    if (g.coin(70)) j.html = P(context::html);
    if (g.coin(30)) j.amp = P(context::html);
    if (g.coin(50)) j.mailing_id = P(context::header);
    if (g.coin(50)) j.message_id = P(context::header);
    if (g.coin(50)) {
        j.header = P(context::header);
        // A header value that is empty for everyone is a job error.
        auto t = *merge::compile(j.header->text, j.fields,
                                 {context::header, j.html_escape, false, "header"});
        std::string v;
        if (t.is_constant() && !t.expand({}, v) && v.empty()) j.header->text.insert(0, "h");
    }
    const auto rows = 1 + g.pick(max_rows);
    for (std::size_t r = 0; r < rows; ++r) {
        owned_recipient rec;
        rec.address = std::to_string(r);
        rec.address.insert(rec.address.begin(), 'r');
        rec.address += "@example.com";
        if (g.coin(50)) {
            rec.name = std::to_string(r);
            rec.name.insert(0, "Name ");
        }
        for (std::size_t c = 0; c < j.fields.columns.size(); ++c)
            rec.values.push_back(j.address_column == c ? rec.address : g.value());
        rec.id = r;
        j.recipients.push_back(std::move(rec));
    }
    return j;
}

}  // namespace salvo::injection::test
