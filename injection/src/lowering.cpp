#include <salvo/injection/lowering.hpp>

#include <salvo/merge/escape.hpp>

#include <algorithm>
#include <string>

namespace salvo::injection {
namespace {

bool is_alpha(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_name_char(char c) noexcept {
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
char fold(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

std::string folded(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = fold(c);
    return out;
}

bool starts_with_folded(std::string_view s, std::string_view folded_prefix) {
    if (s.size() < folded_prefix.size()) return false;
    for (std::size_t i = 0; i < folded_prefix.size(); ++i)
        if (fold(s[i]) != folded_prefix[i]) return false;
    return true;
}

// The placeholder written back in salvo's syntax, to compile it alone.
std::string placeholder_text(const merge::placeholder& p) {
    std::string s = "%%" + p.name;
    if (p.mod == merge::modifier::raw) s += ":raw";
    if (p.mod == merge::modifier::url) s += ":url";
    if (p.has_fallback) s += "|" + p.fallback;
    s += "%%";
    return s;
}

char context_tag(merge::context c) {
    switch (c) {
        case merge::context::text:
            return 't';
        case merge::context::html:
            return 'h';
        case merge::context::header:
            return 'H';
    }
    return '?';
}

// Whether the server substituting the bare value gives what local mode
// renders: no fallback, no encoding, no HTML escaping, and a name the
// envelope fields do not own.
bool is_identity(const merge::compiled_template& t, const merge::placeholder& p) {
    if (p.has_fallback || p.mod == merge::modifier::url) return false;
    const auto& o = t.options();
    if (o.where == merge::context::html && o.html_escape && p.mod == merge::modifier::none)
        return false;
    if (!p.column && !p.global) return false;
    const auto f = folded(p.name);
    return f != "deliveryaddress" && f != "recipientname";
}

// token_field's mark for a placeholder written as %%DeliveryAddress%%.
constexpr std::size_t delivery_address = static_cast<std::size_t>(-1);

}  // namespace

std::vector<server_placeholder> server_scan(std::string_view text) {
    std::vector<server_placeholder> out;
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i + 1 < n) {
        if (text[i] != '%' || text[i + 1] != '%') {
            ++i;
            continue;
        }
        std::size_t k = i + 2;
        if (k < n && is_alpha(text[k])) {
            ++k;
            while (k < n && is_name_char(text[k])) ++k;
            if (k + 1 < n && text[k] == '%' && text[k + 1] == '%') {
                out.push_back({i, k + 2 - i, text.substr(i + 2, k - i - 2)});
                i = k + 2;
                continue;
            }
        }
        ++i;  // a literal `%`
    }
    return out;
}

server_lowering::server_lowering(const merge::field_set& fields,
                                 std::optional<std::size_t> address_column)
    : fields_in_(&fields), address_column_(address_column) {
    // Every row carries every computed field's name, so the name is short:
    // `s1`, `s2`, … (and `spct`), unless one of the user's own names has
    // that shape; then `salvo_1`, …, then `salvo1_1`, ….
    const auto taken = [&](std::string_view name) {
        if (!starts_with_folded(name, prefix_)) return false;
        const std::string_view rest = name.substr(prefix_.size());
        if (folded(rest) == "pct") return true;
        return !rest.empty() &&
               std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    for (int k = -1;; ++k) {
        prefix_ = k < 0 ? "s" : k == 0 ? "salvo_" : "salvo" + std::to_string(k) + "_";
        bool clash = false;
        for (const auto& c : fields.columns) clash = clash || taken(c);
        for (const auto& g : fields.globals) clash = clash || taken(g.name);
        if (!clash) break;
    }
}

std::size_t server_lowering::identity_field(const merge::compiled_template& t,
                                            const merge::placeholder& p, std::string& error) {
    std::string key = folded(p.name);
    key.insert(key.begin(), '=');
    auto it = std::find(keys_.begin(), keys_.end(), key);
    std::size_t index = static_cast<std::size_t>(it - keys_.begin());
    if (it == keys_.end()) {
        lowered_field f;
        f.name = p.name;
        f.column = p.column;
        fields_.push_back(std::move(f));
        keys_.push_back(key);
    }
    // One checker per distinct (context, missing-field policy) the bare
    // field appears in.
    auto& f = fields_[index];
    const auto& o = t.options();
    for (const auto& r : f.renderers)
        if (r.options().where == o.where && r.options().empty_is_invalid == o.empty_is_invalid)
            return index;
    auto compiled = merge::compile(placeholder_text(p), *fields_in_, o);
    if (!compiled) {
        error = compiled.error().message;
        return index;
    }
    f.renderers.push_back(std::move(*compiled));
    return index;
}

std::size_t server_lowering::derived_field(const merge::compiled_template& t,
                                           const merge::placeholder& p, std::string& error) {
    const auto& o = t.options();
    // A `:url` value (and its fallback) is percent-encoded whatever the
    // context, so its text and HTML uses share one field: one MergeData
    // entry less per row. A header still checks for line breaks apart.
    const bool any_body = p.mod == merge::modifier::url && o.where != merge::context::header;
    std::string key = "~";
    key += any_body ? 'b' : context_tag(o.where);
    key += any_body || o.html_escape ? '1' : '0';
    key += o.empty_is_invalid ? '1' : '0';
    key += static_cast<char>('0' + static_cast<int>(p.mod));
    key += p.has_fallback ? '|' : ' ';
    key += folded(p.name);
    key += '|';
    key += p.fallback;
    auto it = std::find(keys_.begin(), keys_.end(), key);
    if (it != keys_.end()) return static_cast<std::size_t>(it - keys_.begin());
    auto compiled = merge::compile(placeholder_text(p), *fields_in_, o);
    if (!compiled) {
        error = compiled.error().message;
        return 0;
    }
    lowered_field f;
    const auto derived = std::count_if(fields_.begin(), fields_.end(),
                                       [](const lowered_field& m) { return m.derived; });
    f.name = prefix_ + std::to_string(derived + 1);
    f.derived = true;
    f.column = p.column;
    f.renderers.push_back(std::move(*compiled));
    fields_.push_back(std::move(f));
    keys_.push_back(std::move(key));
    return fields_.size() - 1;
}

std::optional<std::string> assemble_for_server(const std::vector<lowered_piece>& pieces,
                                               std::string_view percent_field, bool& escaped) {
    std::vector<std::size_t> expected;
    std::string out;
    for (const bool escape_percent : {false, true}) {
        if (escape_percent && percent_field.empty()) break;
        expected.clear();
        out.clear();
        for (const auto& p : pieces) {
            if (p.is_placeholder) {
                expected.push_back(out.size());
                out += "%%";
                out += p.text;
                out += "%%";
                continue;
            }
            if (!escape_percent) {
                out += p.text;
                continue;
            }
            for (const char c : p.text) {
                if (c != '%') {
                    out += c;
                    continue;
                }
                expected.push_back(out.size());
                out += "%%";
                out += percent_field;
                out += "%%";
            }
        }
        const auto found = server_scan(out);
        bool same = found.size() == expected.size();
        for (std::size_t i = 0; same && i < found.size(); ++i) same = found[i].pos == expected[i];
        if (same) {
            escaped = escape_percent;
            return out;
        }
    }
    return std::nullopt;
}

boost::system::result<std::string, error_info> server_lowering::lower(
    const merge::compiled_template& t) {
    std::vector<lowered_piece> pieces;
    std::vector<std::size_t> token_field;  // per piece; views are taken once fields_ stops growing
    std::string error;
    for (const auto& s : t.segments()) {
        if (s.is_literal) {
            pieces.push_back({false, s.literal});
            token_field.push_back(0);
            continue;
        }
        const bool identity = is_identity(t, s.field);
        if (identity && address_column_ && s.field.column == address_column_) {
            // The row's DeliveryAddress is this column's value, byte for byte.
            pieces.push_back({true, "DeliveryAddress"});
            token_field.push_back(delivery_address);
            continue;
        }
        const auto index =
            identity ? identity_field(t, s.field, error) : derived_field(t, s.field, error);
        if (!error.empty()) {
            return error_info{
                make_error_code(errc::server_mode_refused),
                t.label() + ": cannot lower %%" + s.field.name + "%% for server merge: " + error};
        }
        pieces.push_back({true, {}});
        token_field.push_back(index);
    }
    for (std::size_t i = 0; i < pieces.size(); ++i)
        if (pieces[i].is_placeholder && token_field[i] != delivery_address)
            pieces[i].text = fields_[token_field[i]].name;
    bool escaped = false;
    auto text = assemble_for_server(pieces, prefix_ + "pct", escaped);
    if (!text) {
        return error_info{make_error_code(errc::server_mode_refused),
                          t.label() +
                              ": the server's merge would read the literal '%' signs of this "
                              "template as placeholders; use merge mode local"};
    }
    if (escaped) percent_field_ = prefix_ + "pct";
    return std::move(*text);
}

void server_lowering::finish() {
    std::string scratch;
    for (auto& f : fields_) {
        scratch.clear();
        bool ok = true;
        for (const auto& r : f.renderers) {
            const auto mark = scratch.size();
            if (r.expand(merge::row_view{}, scratch)) {
                ok = false;
                break;
            }
            if (&r != &f.renderers.front()) scratch.resize(mark);
        }
        if (ok) f.global = scratch;
    }
    if (!percent_field_.empty()) {
        lowered_field f;
        f.name = percent_field_;
        f.derived = true;
        f.global = std::string(1, '%');
        fields_.push_back(std::move(f));
    }
}

}  // namespace salvo::injection
