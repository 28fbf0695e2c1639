// libFuzzer target: the template compiler and expansion. The first byte
// picks the context (text, html, header), html_escape, empty_is_invalid and
// whether each row value is absent; the rest is TEMPLATE '\0' VALUE '\1'
// VALUE … for the columns email, name, first_name, code, url (the Globals
// company and empty exist too).

#include <salvo/merge/escape.hpp>
#include <salvo/merge/template.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

const salvo::merge::field_set& fields() {
    static const salvo::merge::field_set f{
        {"email", "name", "first_name", "code", "url"},
        {{"company", "ACME <&> \"Ltd\""}, {"empty", ""}},
    };
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace salvo::merge;
    if (size == 0) return 0;
    const std::uint8_t knobs = data[0];
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto cut = input.find('\0');
    const std::string_view text = input.substr(0, cut);

    compile_options o;
    const context contexts[] = {context::text, context::html, context::header, context::html};
    o.where = contexts[knobs & 3];
    o.html_escape = (knobs & 4) == 0;
    o.empty_is_invalid = (knobs & 8) != 0;
    o.label = "fuzz";
    auto t = compile(text, fields(), o);
    if (!t) {
        if (t.error().message.empty()) std::abort();  // every error says what and where
        return 0;
    }

    // The row: values split at '\1'; knob bits 4..7 make a value absent.
    std::array<std::string_view, 5> row{};
    std::string_view rest = cut == std::string_view::npos ? "" : input.substr(cut + 1);
    for (std::size_t i = 0; i < row.size(); ++i) {
        const auto end = rest.find('\1');
        if (i < 4 && ((knobs >> (4 + static_cast<int>(i))) & 1) != 0) {
            row[i] = {};  // absent: the Global or fallback applies
        } else {
            row[i] = rest.substr(0, end);
            if (row[i].data() == nullptr) row[i] = std::string_view("", 0);
        }
        rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    }

    std::string out = "stale";  // expand appends to what the caller has
    const auto error = t->expand(row, out);
    if (error) {
        if (t->describe(*error).empty()) std::abort();
        return 0;
    }
    if (out.compare(0, 5, "stale") != 0) std::abort();
    // Everything written is the inside of a JSON string: it must unescape,
    // and in a header no value may have brought a line break.
    std::string plain;
    if (!json_unescape(std::string_view(out).substr(5), plain)) std::abort();
    for (std::size_t i = 5; i < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        if (c == '\\') {
            ++i;  // the escaped byte
        } else if (c < 0x20 || c == '"') {
            std::abort();  // a raw control byte or quote would break the request body
        }
    }
    if (o.where == context::header && has_line_break(plain)) {
        // Only the template's own literal text may hold one.
        if (!has_line_break(text)) std::abort();
    }
    // Expansion is repeatable into a reused buffer.
    std::string again;
    again.reserve(out.size() * 2);
    if (t->expand(row, again) || again != std::string_view(out).substr(5)) std::abort();
    return 0;
}
