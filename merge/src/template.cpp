#include <salvo/merge/escape.hpp>
#include <salvo/merge/suggest.hpp>
#include <salvo/merge/template.hpp>

#include "escape_raw.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace salvo::merge {
namespace {

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

constexpr bool is_letter(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
constexpr bool is_name_char(char c) noexcept {
    return is_letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Where a byte offset sits, 1-based, for messages.
struct position {
    std::size_t line = 1;
    std::size_t column = 1;
};

position position_of(std::string_view text, std::size_t offset) {
    position p;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++p.line;
            p.column = 1;
        } else {
            ++p.column;
        }
    }
    return p;
}

std::string where(const std::string& label, position p) {
    return (label.empty() ? std::string("template") : label) + ":" + std::to_string(p.line) + ":" +
           std::to_string(p.column) + ": ";
}

// Appends `value` as the placeholder's context wants it.
void append_transformed(std::string& out, std::string_view value, modifier mod, bool html) {
    if (mod == modifier::url)
        append_url_encoded(out, value);
    else if (html && mod != modifier::raw)
        append_html_json_escaped(out, value);
    else
        append_json_escaped(out, value);
}

// A literal stretch `%%…%%` that reads like a placeholder someone mistyped
// (`%%First Name%%`): a short run of name-ish characters with a letter in it.
bool looks_like_placeholder(std::string_view inner) {
    if (inner.empty() || inner.size() > 64 || inner.front() == ' ' || inner.back() == ' ')
        return false;
    bool letter = false;
    for (const char c : inner) {
        if (!(is_name_char(c) || c == ' ' || c == '.')) return false;
        letter = letter || is_letter(c);
    }
    return letter;
}

struct parse_state {
    std::string_view text;
    std::vector<segment> segments;
    std::vector<std::size_t> literal_starts;  // offset of each literal segment
    std::string literal;
    std::size_t literal_start = 0;

    void flush_literal() {
        if (literal.empty()) return;
        segment s;
        s.literal = std::move(literal);
        segments.push_back(std::move(s));
        literal_starts.push_back(literal_start);
        literal.clear();
    }
    void add_literal(std::size_t at, std::string_view piece) {
        if (literal.empty()) literal_start = at;
        literal.append(piece);
    }
};

compile_error make_error(errc code, std::string_view text, std::size_t offset,
                         const std::string& label, const std::string& what) {
    const position p = position_of(text, offset);
    return {code, p.line, p.column, where(label, p) + what};
}

// The offset of the first byte that makes `text` no UTF-8 text (an invalid
// or overlong sequence, a surrogate, a code point past U+10FFFF, or NUL),
// or npos.
std::size_t first_bad_text_byte(std::string_view text) noexcept {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c >= 0x01 && c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;  // NUL, a continuation byte, C0, C1 or F5..FF
        }
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (std::size_t k = 2; k < len; ++k)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += len;
    }
    return std::string_view::npos;
}

// Literal copies move whole 32-byte blocks, reading and writing up to
// copy_slack bytes past the end; the pool and the output carry that slack.
// Fixed-size moves compile to a few vector instructions, where a libc
// memcpy call per literal costs more than the bytes it moves.
constexpr std::size_t copy_slack = 32;

inline char* copy_block(char* p, const char* src, std::size_t n) {
    for (std::size_t i = 0; i < n; i += copy_slack) std::memcpy(p + i, src + i, copy_slack);
    return p + n;
}

}  // namespace

std::optional<std::size_t> field_set::find_column(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < columns.size(); ++i)
        if (iequals(columns[i], name)) return i;
    return std::nullopt;
}

const global_field* field_set::find_global(std::string_view name) const noexcept {
    for (const auto& g : globals)
        if (iequals(g.name, name)) return &g;
    return nullptr;
}

boost::system::result<compiled_template, compile_error> compile(std::string_view text,
                                                                const field_set& fields,
                                                                const compile_options& options) {
    const std::string& label = options.label;
    if (const auto bad = first_bad_text_byte(text); bad != std::string_view::npos) {
        return make_error(errc::bad_text, text, bad, label,
                          text[bad] == '\0'
                              ? "a NUL byte: a template is text"
                              : "not valid UTF-8 (save the template as UTF-8; salvo does not "
                                "convert template files)");
    }
    parse_state st;
    std::vector<compile_warning> unclosed;  // `%%name` without its closing `%%`
    st.text = text;

    // Parse: literal text and placeholders.
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        if (!(text[i] == '%' && i + 2 < n && text[i + 1] == '%' && is_letter(text[i + 2]))) {
            // Not a placeholder start: one byte of literal text. A `%%` that
            // is not followed by a NAME moves on by a single `%`, so `%%%Name%%`
            // is a `%` and then a placeholder.
            std::size_t j = i + 1;
            while (j < n && text[j] != '%') ++j;
            st.add_literal(i, text.substr(i, j - i));
            i = j;
            continue;
        }
        const std::size_t start = i;
        std::size_t k = i + 2;
        while (k < n && is_name_char(text[k])) ++k;
        const std::string_view name = text.substr(i + 2, k - (i + 2));
        const auto closes_at = [&](std::size_t at) {
            return at + 1 < n && text[at] == '%' && text[at + 1] == '%';
        };
        placeholder ph;
        ph.name = std::string(name);
        if (closes_at(k)) {
            k += 2;
        } else if (k < n && (text[k] == ':' || text[k] == '|')) {
            if (text[k] == ':') {
                std::size_t m = k + 1;
                while (m < n && is_letter(text[m])) ++m;
                const std::string_view mod = text.substr(k + 1, m - (k + 1));
                if (iequals(mod, "raw")) {
                    ph.mod = modifier::raw;
                } else if (iequals(mod, "url")) {
                    ph.mod = modifier::url;
                } else {
                    return make_error(errc::unknown_modifier, text, k + 1, label,
                                      mod.empty() ? "missing modifier after ':' in placeholder '" +
                                                        ph.name + "' (modifiers: raw, url)"
                                                  : "unknown modifier '" + std::string(mod) +
                                                        "' in placeholder '" + ph.name +
                                                        "' (modifiers: raw, url)");
                }
                k = m;
            }
            if (closes_at(k)) {
                k += 2;
            } else if (k < n && text[k] == '|') {
                std::size_t f = k + 1;
                while (f < n && text[f] != '%' && text[f] != '\n' && text[f] != '\r') ++f;
                if (f >= n || text[f] != '%')
                    return make_error(
                        errc::unclosed_placeholder, text, start, label,
                        "placeholder '" + ph.name + "' is not closed with %% on its line");
                if (!closes_at(f))
                    return make_error(
                        errc::bad_fallback, text, f, label,
                        "the fallback of placeholder '" + ph.name + "' may not contain '%'");
                // `%%plan|valued</b> member of %%company%%`: the fallback's
                // closing `%%` opens the next placeholder, whose name would
                // be printed as text. Refuse rather than eat it.
                std::size_t after = f + 2;
                if (after < n && is_letter(text[after])) {
                    while (after < n && is_name_char(text[after])) ++after;
                    if (closes_at(after) ||
                        (after < n && (text[after] == '|' || text[after] == ':')))
                        return make_error(errc::bad_fallback, text, f, label,
                                          "the fallback of placeholder '" + ph.name +
                                              "' runs into the next placeholder '%%" +
                                              std::string(text.substr(f + 2, after - (f + 2))) +
                                              "': close the fallback with %% first (%%" + ph.name +
                                              "|" +
                                              std::string(text.substr(
                                                  k + 1, std::min<std::size_t>(f - (k + 1), 20))) +
                                              "%%)");
                }
                ph.has_fallback = true;
                ph.fallback = std::string(text.substr(k + 1, f - (k + 1)));
                k = f + 2;
            } else {
                return make_error(
                    errc::unclosed_placeholder, text, start, label,
                    "placeholder '" + ph.name + "' is not closed with %% on its line");
            }
        } else {
            // `%%Name` followed by anything else is literal text. With no
            // `%%` later on its line, it is most likely a placeholder whose
            // closing `%%` was forgotten: say so (it still prints as written).
            const std::size_t eol = std::min(text.find('\n', k), n);
            if (text.substr(k, eol - k).find("%%") == std::string_view::npos) {
                const position p = position_of(text, start);
                compile_warning w;
                w.line = p.line;
                w.column = p.column;
                w.text = std::string(text.substr(start, k - start));
                w.message = where(label, p) + "'" + w.text +
                            "' is printed as written, not merged: a placeholder ends with %% "
                            "(did you mean " +
                            w.text + "%%?)";
                unclosed.push_back(std::move(w));
            }
            st.add_literal(i, "%");
            i += 1;
            continue;
        }
        const position p = position_of(text, start);
        ph.line = p.line;
        ph.col = p.column;
        st.flush_literal();
        segment s;
        s.is_literal = false;
        s.field = std::move(ph);
        st.segments.push_back(std::move(s));
        i = k;
    }
    st.flush_literal();

    // Resolve names and build the expansion program.
    compiled_template t;
    t.options_ = options;
    t.warnings_ = std::move(unclosed);
    const bool html = options.where == context::html && options.html_escape;
    const bool header = options.where == context::header;
    std::size_t literal_index = 0;
    for (std::size_t si = 0; si < st.segments.size(); ++si) {
        segment& s = st.segments[si];
        compiled_template::op o;
        if (s.is_literal) {
            const std::size_t at = st.literal_starts[literal_index++];
            // Warn about literal `%%…%%` stretches that look like placeholders.
            const std::string_view lit = s.literal;
            for (std::size_t a = lit.find("%%"); a != std::string_view::npos;) {
                const std::size_t b = lit.find("%%", a + 2);
                if (b == std::string_view::npos) break;
                const std::string_view inner = lit.substr(a + 2, b - a - 2);
                if (inner.find('\n') == std::string_view::npos && looks_like_placeholder(inner)) {
                    const position p = position_of(text, at + a);
                    compile_warning w;
                    w.line = p.line;
                    w.column = p.column;
                    w.text = std::string(lit.substr(a, b + 2 - a));
                    std::string suggestion(inner);
                    std::replace_if(
                        suggestion.begin(), suggestion.end(),
                        [](char c) { return c == ' ' || c == '.'; }, '_');
                    w.message = where(label, p) + "'" + w.text +
                                "' is printed as written, not merged: a field name has no "
                                "spaces or dots (did you mean %%" +
                                suggestion + "%%?)";
                    t.warnings_.push_back(std::move(w));
                    a = b + 2;
                } else {
                    a = b;
                }
            }
            // Consecutive literals never occur (the parser merges them).
            o.is_literal = true;
            o.offset = static_cast<std::uint32_t>(t.pool_.size());
            append_json_escaped(t.pool_, s.literal);
            o.size = static_cast<std::uint32_t>(t.pool_.size() - o.offset);
            t.literal_bytes_ += o.size;
            t.ops_.push_back(o);
            continue;
        }
        placeholder& ph = s.field;
        ph.column = fields.find_column(ph.name);
        if (const global_field* g = fields.find_global(ph.name)) ph.global = g->value;
        if (!ph.column && !ph.global) {
            std::string known;
            std::vector<std::string> names;
            for (const auto& c : fields.columns) names.push_back(c);
            for (const auto& g : fields.globals) names.push_back(g.name);
            for (const auto& k : names) known += (known.empty() ? "" : ", ") + k;
            const auto near = closest_name(ph.name, names);
            const std::string hint = near ? "did you mean %%" + *near + "%%? " : "";
            const position p{ph.line, ph.col};
            if (!ph.has_fallback)
                return compile_error{
                    errc::unknown_field, p.line, p.column,
                    where(label, p) + "unknown field '" + ph.name +
                        "': no column or global provides it; " + hint +
                        "(known fields: " + (known.empty() ? std::string("none") : known) + ")"};
            // With a fallback it compiles, but every recipient gets the
            // fallback: most likely a misspelt field.
            compile_warning w;
            w.line = p.line;
            w.column = p.column;
            w.text = "%%" + ph.name + "|" + ph.fallback + "%%";
            w.message = where(label, p) + "no column or global provides '" + ph.name +
                        "', so every recipient gets the fallback '" + ph.fallback + "'; " + hint +
                        "(known fields: " + (known.empty() ? std::string("none") : known) + ")";
            t.warnings_.push_back(std::move(w));
        }
        if (header && ph.global && has_line_break(*ph.global)) {
            const position p{ph.line, ph.col};
            return compile_error{errc::global_breaks_header, p.line, p.column,
                                 where(label, p) + "the global value of '" + ph.name +
                                     "' holds a line break, which would break the header"};
        }
        o.is_literal = false;
        o.segment = static_cast<std::uint32_t>(si);
        o.mod = ph.mod;
        o.html = html;
        o.column =
            ph.column ? static_cast<std::uint32_t>(*ph.column) : compiled_template::no_column;
        if (ph.global) {
            o.has_global = true;
            o.global_empty = ph.global->empty();
            o.global_offset = static_cast<std::uint32_t>(t.pool_.size());
            append_transformed(t.pool_, *ph.global, ph.mod, html);
            o.global_size = static_cast<std::uint32_t>(t.pool_.size() - o.global_offset);
        }
        if (ph.has_fallback) {
            o.has_fallback = true;
            o.fallback_offset = static_cast<std::uint32_t>(t.pool_.size());
            append_transformed(t.pool_, ph.fallback, ph.mod, html);
            o.fallback_size = static_cast<std::uint32_t>(t.pool_.size() - o.fallback_offset);
        }
        if (ph.column) {
            t.used_columns_.push_back(*ph.column);
            t.field_columns_.push_back(o.column);
        }
        t.const_field_bytes_ += std::max(o.global_size, o.fallback_size);
        t.ops_.push_back(o);
    }
    // Fuse each literal into the field op that follows it.
    std::vector<compiled_template::op> fused;
    fused.reserve(t.ops_.size());
    for (std::size_t k = 0; k < t.ops_.size(); ++k) {
        compiled_template::op o = t.ops_[k];
        if (o.is_literal && k + 1 < t.ops_.size() && !t.ops_[k + 1].is_literal) {
            compiled_template::op f = t.ops_[++k];
            f.offset = o.offset;
            f.size = o.size;
            o = f;
        } else if (!o.is_literal) {
            o.offset = 0;
            o.size = 0;
        }
        if (!o.is_literal)
            o.write = o.mod == modifier::url               ? compiled_template::op::writer::url
                      : (o.html && o.mod != modifier::raw) ? compiled_template::op::writer::html
                                                           : compiled_template::op::writer::json;
        fused.push_back(o);
    }
    t.ops_ = std::move(fused);
    // Slack so the expansion loop may copy literals in whole 32-byte blocks.
    t.pool_.append(copy_slack, '\0');
    std::sort(t.used_columns_.begin(), t.used_columns_.end());
    t.used_columns_.erase(std::unique(t.used_columns_.begin(), t.used_columns_.end()),
                          t.used_columns_.end());
    t.segments_ = std::move(st.segments);
    return t;
}

std::size_t compiled_template::max_expanded_size(row_view row) const noexcept {
    std::size_t n = literal_bytes_ + const_field_bytes_ + copy_slack;
    for (const std::uint32_t c : field_columns_)
        if (c < row.size()) n += row[c].size() * detail::max_expansion;
    return n;
}

// Writes the expansion of `row` at `p`, which has room for
// max_expanded_size(row) bytes; returns the end, or nullptr with `failed` set.
char* compiled_template::write(row_view row, char* p, expand_error& failed) const {
    const bool header = options_.where == context::header;
    const char* const pool = pool_.data();
    for (const op& o : ops_) {
        p = copy_block(p, pool + o.offset, o.size);
        if (o.is_literal) continue;
        if (o.column != no_column && o.column < row.size() && !is_absent(row[o.column])) {
            const std::string_view v = row[o.column];
            if (!v.empty()) {
                if (header && has_line_break(v)) {
                    failed = {make_error_code(errc::header_injection), &segments_[o.segment].field};
                    return nullptr;
                }
                switch (o.write) {
                    case op::writer::json:
                        p = detail::write_escaped<false>(p, v);
                        break;
                    case op::writer::html:
                        p = detail::write_escaped<true>(p, v);
                        break;
                    case op::writer::url:
                        p = detail::write_url_encoded(p, v);
                        break;
                }
                continue;
            }
            // A row's empty value wins over the Global: fall through.
        } else if (o.has_global && !o.global_empty) {
            p = copy_block(p, pool + o.global_offset, o.global_size);
            continue;
        }
        if (o.has_fallback) {
            p = copy_block(p, pool + o.fallback_offset, o.fallback_size);
        } else if (options_.empty_is_invalid) {
            failed = {make_error_code(errc::missing_value), &segments_[o.segment].field};
            return nullptr;
        }
    }
    return p;
}

std::optional<expand_error> compiled_template::expand(row_view row, std::string& out) const {
    // One grow to an upper bound, raw writes, one trim: no per-append
    // capacity checks or terminator writes. With C++23's
    // resize_and_overwrite (this file is built as C++23 where the compiler
    // offers it) the grow does not zero-fill either.
    const std::size_t start = out.size();
    const std::size_t bound = start + max_expanded_size(row);
    expand_error failed;
    bool ok = true;
#if defined(__cpp_lib_string_resize_and_overwrite)
    out.resize_and_overwrite(bound, [&](char* data, std::size_t) {
        char* end = write(row, data + start, failed);
        ok = end != nullptr;
        return ok ? static_cast<std::size_t>(end - data) : start;
    });
#else
    out.resize(bound);
    char* end = write(row, out.data() + start, failed);
    ok = end != nullptr;
    out.resize(ok ? static_cast<std::size_t>(end - out.data()) : start);
#endif
    if (!ok) return failed;
    return std::nullopt;
}

std::string compiled_template::describe(const expand_error& e) const {
    const std::string what = label().empty() ? std::string("template") : label();
    const std::string field = e.field ? e.field->name : std::string("?");
    if (e.code == errc::header_injection)
        return "field '" + field + "' holds a line break (CR or LF), which would break the " + what;
    if (e.code == errc::missing_value)
        return "field '" + field + "' is empty and its placeholder in the " + what +
               " has no fallback (missing_field is \"invalid\")";
    return "field '" + field + "' in the " + what + ": " + e.code.message();
}

void throw_exception_from_error(const compile_error& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

}  // namespace salvo::merge
