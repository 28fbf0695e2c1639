#pragma once
// Small helpers shared by the merge tests.

#include <salvo/merge/escape.hpp>
#include <salvo/merge/template.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace salvo::merge::test {

inline field_set make_fields(std::vector<std::string> columns,
                             std::vector<global_field> globals = {}) {
    field_set f;
    f.columns = std::move(columns);
    f.globals = std::move(globals);
    return f;
}

inline compile_options in(context where, std::string label = "test") {
    compile_options o;
    o.where = where;
    o.label = std::move(label);
    return o;
}

// Compiles, expands one row and returns the JSON-unescaped output; fails the
// test on any error.
inline std::string render(std::string_view text, const field_set& fields,
                          const std::vector<std::string_view>& row,
                          const compile_options& options = in(context::text)) {
    auto t = compile(text, fields, options);
    if (!t) {
        ADD_FAILURE() << "compile failed: " << t.error().message;
        return {};
    }
    std::string out;
    if (auto e = t->expand(row, out)) {
        ADD_FAILURE() << "expand failed: " << t->describe(*e);
        return {};
    }
    std::string plain;
    EXPECT_TRUE(json_unescape(out, plain)) << out;
    return plain;
}

// RFC 3986 percent-encoding written the plain way, one byte at a time: the
// reference the encoder is checked against.
inline std::string url_encode(std::string_view v) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// HTML escaping of the five characters, written the plain way: the
// reference for values in an HTML body.
inline std::string html_escape(std::string_view v) {
    std::string out;
    for (const char c : v) {
        switch (c) {
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
                out += c;
        }
    }
    return out;
}

}  // namespace salvo::merge::test
