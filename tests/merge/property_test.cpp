// Property: on random templates and rows, expanding and then JSON-unescaping
// equals a naive reference expansion written independently with std::regex.
#include "test_util.hpp"

#include <optional>
#include <random>
#include <regex>
#include <variant>

namespace salvo::merge {
namespace {

using test::in;
using test::url_encode;

struct compile_fails {};
struct row_fails {};
using reference_result = std::variant<std::string, compile_fails, row_fails>;

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// The reference: walk the text; at each `%%` + letter, try the whole
// placeholder with a regex, decide literal or error by the next character.
reference_result reference(const std::string& text, const field_set& fields,
                           const std::vector<std::optional<std::string>>& row, context where,
                           bool html_escape) {
    static const std::regex name_re("%%([A-Za-z][A-Za-z0-9_-]*)");
    static const std::regex full_re("%%([A-Za-z][A-Za-z0-9_-]*)(:([A-Za-z]*))?(\\|([^%\r\n]*))?%%");
    std::string out;
    bool row_failed = false;  // decided after the whole text: compile errors come first
    std::size_t i = 0;
    while (i < text.size()) {
        std::smatch m;
        const std::string rest = text.substr(i);
        if (!std::regex_search(rest, m, name_re, std::regex_constants::match_continuous)) {
            out += text[i++];
            continue;
        }
        const std::size_t after = static_cast<std::size_t>(m.length(0));
        const char next = after < rest.size() ? rest[after] : '\0';
        const bool closes = rest.compare(after, 2, "%%") == 0;
        if (!closes && next != ':' && next != '|') {
            out += text[i++];
            continue;
        }
        std::smatch f;
        if (!std::regex_search(rest, f, full_re, std::regex_constants::match_continuous))
            return compile_fails{};
        const std::string name = f[1].str();
        const std::string mod = lower(f[3].str());
        if (f[2].matched && mod != "raw" && mod != "url") return compile_fails{};
        const bool has_fallback = f[4].matched;
        const std::string fallback = f[5].str();
        // A fallback whose closing %% opens another placeholder
        // (`%%a|x%%b%%`) is refused: it would print the name as text.
        if (has_fallback) {
            static const std::regex next_re("[A-Za-z][A-Za-z0-9_-]*(%%|[:|])");
            const std::string tail = rest.substr(static_cast<std::size_t>(f.length(0)));
            if (std::regex_search(tail, next_re, std::regex_constants::match_continuous))
                return compile_fails{};
        }
        std::optional<std::size_t> col;
        for (std::size_t c = 0; c < fields.columns.size() && !col; ++c)
            if (lower(fields.columns[c]) == lower(name)) col = c;
        std::optional<std::string> global;
        for (const auto& g : fields.globals)
            if (!global && lower(g.name) == lower(name)) global = g.value;
        if (!col && !global && !has_fallback) return compile_fails{};
        if (where == context::header && global &&
            global->find_first_of("\r\n") != std::string::npos)
            return compile_fails{};
        std::optional<std::string> value;
        if (col && *col < row.size() && row[*col])
            value = *row[*col];
        else if (global)
            value = *global;
        std::string v = value.value_or("");
        if (!v.empty() && where == context::header && v.find_first_of("\r\n") != std::string::npos)
            row_failed = true;
        if (v.empty()) v = has_fallback ? fallback : "";
        if (mod == "url")
            v = url_encode(v);
        else if (where == context::html && html_escape && mod != "raw")
            v = test::html_escape(v);
        out += v;
        i += static_cast<std::size_t>(f.length(0));
    }
    if (row_failed) return row_fails{};
    return out;
}

class generator {
  public:
    explicit generator(std::uint32_t seed) : rng_(seed) {}

    std::size_t pick(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
    }

    std::string name() {
        static const std::vector<std::string> names{"first_name", "Last-Name", "code",
                                                    "x1",         "company",   "nosuch"};
        std::string n = names[pick(names.size())];
        for (char& c : n)
            if (pick(3) == 0 && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        return n;
    }

    std::string text_piece(bool allow_breaks) {
        static const std::vector<std::string> pieces{
            "a", "Hello ", "%", "%%", "50%% off", " ", "\"", "\\",   "<",    ">",
            "&", "'",      "é", "😀",  "\t",       ":", "|",  "x%%y", "%%%%", "%%First Name%%",
            "/", "\x01"};
        std::string s = pieces[pick(pieces.size())];
        if (allow_breaks && pick(8) == 0) s += pick(2) ? "\n" : "\r\n";
        return s;
    }

    std::string placeholder() {
        std::string p = "%%" + name();
        switch (pick(4)) {
            case 0:
                p += ":raw";
                break;
            case 1:
                p += ":url";
                break;
            case 2:
                p += pick(5) == 0 ? ":upper" : "";
                break;
            default:
                break;
        }
        if (pick(2)) {
            p += "|";
            for (std::size_t n = pick(3); n > 0; --n) p += pick(2) ? "fb" : " <&>";
            if (pick(30) == 0) p += "%";  // malformed now and then
        }
        if (pick(40) != 0) p += "%%";
        return p;
    }

    std::string templ() {
        std::string t;
        for (std::size_t n = pick(12); n > 0; --n) t += pick(3) ? text_piece(true) : placeholder();
        return t;
    }

    std::optional<std::string> value() {
        static const std::vector<std::string> values{
            "",   "Ann",         "O'Brien & <Co>", "\"q\"",    "é😀",  "a b/c?d=e",
            "\\", "line\nbreak", "cr\r",           "%%code%%", "100%"};
        if (pick(6) == 0) return std::nullopt;  // absent
        return values[pick(values.size())];
    }

  private:
    std::mt19937 rng_;
};

TEST(TemplateProperty, ExpansionMatchesNaiveReference) {
    generator g(20261126);
    field_set fields;
    fields.columns = {"first_name", "last-name", "code", "x1"};
    fields.globals = {{"company", "ACME <&>"}, {"CODE", "global-code"}};
    int compiled = 0, rejected_rows = 0;
    for (int iteration = 0; iteration < 20000; ++iteration) {
        const std::string text = g.templ();
        const auto where = static_cast<context>(g.pick(3));
        compile_options o = in(where);
        o.html_escape = g.pick(4) != 0;
        std::vector<std::optional<std::string>> row;
        for (std::size_t c = 0; c < fields.columns.size(); ++c) row.push_back(g.value());
        std::vector<std::string_view> views;
        for (const auto& v : row) views.push_back(v ? std::string_view(*v) : std::string_view{});
        if (g.pick(10) == 0) views.pop_back();  // short rows are absent at the end
        if (views.size() < row.size()) row.back().reset();

        const auto expected = reference(text, fields, row, where, o.html_escape);
        auto t = compile(text, fields, o);
        if (std::holds_alternative<compile_fails>(expected)) {
            EXPECT_FALSE(t) << "reference rejects, compiler accepts: " << text;
            continue;
        }
        ASSERT_TRUE(t) << "compiler rejects, reference accepts: " << text << "\n"
                       << t.error().message;
        ++compiled;
        std::string out;
        const auto e = t->expand(views, out);
        if (std::holds_alternative<row_fails>(expected)) {
            EXPECT_TRUE(e) << "reference rejects the row: " << text;
            ++rejected_rows;
            continue;
        }
        ASSERT_FALSE(e) << t->describe(*e) << " in " << text;
        std::string plain;
        ASSERT_TRUE(json_unescape(out, plain)) << out;
        EXPECT_EQ(plain, std::get<std::string>(expected)) << "template: " << text;
    }
    // The generator must exercise both outcomes, or the property says little.
    EXPECT_GT(compiled, 1000);
    EXPECT_GT(rejected_rows, 10);
}

}  // namespace
}  // namespace salvo::merge
