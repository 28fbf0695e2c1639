#include <salvo/merge/escape.hpp>

#include "escape_raw.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace salvo::merge {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

bool read_hex4(std::string_view in, std::size_t at, std::uint32_t& v) {
    if (at + 4 > in.size()) return false;
    v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const int h = hex_value(in[at + i]);
        if (h < 0) return false;
        v = (v << 4) | static_cast<std::uint32_t>(h);
    }
    return true;
}

// Grows `out` by the most `in` can escape to, lets `write` fill it and trims
// it. The request writer escapes once per merge field of a server-mode row:
// the grow must not zero-fill (append_written, with C++23's
// resize_and_overwrite: this target is built as C++23).
template <typename Writer>
void append_escaped_with(std::string& out, std::string_view in, Writer write) {
    append_written(out, in.size() * detail::max_expansion, [&](char* at) { return write(at, in); });
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view in) {
    append_escaped_with(out, in, detail::write_escaped<false>);
}

void append_html_json_escaped(std::string& out, std::string_view in) {
    append_escaped_with(out, in, detail::write_escaped<true>);
}

void append_url_encoded(std::string& out, std::string_view in) {
    append_escaped_with(out, in, detail::write_url_encoded);
}

static_assert(max_escaped_growth == detail::max_expansion);

char* write_json_escaped(char* dst, std::string_view in) noexcept {
    return detail::write_escaped<false>(dst, in);
}

char* write_html_json_escaped(char* dst, std::string_view in) noexcept {
    return detail::write_escaped<true>(dst, in);
}

char* write_url_encoded(char* dst, std::string_view in) noexcept {
    return detail::write_url_encoded(dst, in);
}

namespace {

// True when `hit` flags some word of `in`: a word at a time, with
// overlapping loads for the ends. The values tested are short (names,
// cities), where memchr calls or a byte loop cost more than the test. An
// absent value is a view whose data() is nullptr and whose size is 0:
// nothing is read. `hit` must not flag the filler byte 'A'.
template <class Hit>
[[gnu::always_inline]] inline bool any_word(std::string_view in, Hit hit) noexcept {
    const char* s = in.data();
    const std::size_t n = in.size();
    std::uint64_t w = 0;
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 < n; i += 8) {
            std::memcpy(&w, s + i, 8);
            if (hit(w)) return true;
        }
        std::memcpy(&w, s + n - 8, 8);
        return hit(w);
    }
    if (n >= 4) {
        std::uint32_t a, b;
        std::memcpy(&a, s, 4);
        std::memcpy(&b, s + n - 4, 4);
        return hit(a | (std::uint64_t{b} << 32));
    }
    if (n == 0) return false;
    // 1 to 3 bytes: the first, middle and last, over a filler byte.
    w = detail::ones * static_cast<std::uint8_t>('A');
    w = (w & ~0xFFFFFFULL) | static_cast<unsigned char>(s[0]) |
        (std::uint64_t{static_cast<unsigned char>(s[n / 2])} << 8) |
        (std::uint64_t{static_cast<unsigned char>(s[n - 1])} << 16);
    return hit(w);
}

}  // namespace

bool has_line_break(std::string_view in) noexcept {
    if (in.size() > 64)
        return std::memchr(in.data(), '\n', in.size()) != nullptr ||
               std::memchr(in.data(), '\r', in.size()) != nullptr;
    return any_word(in, [](std::uint64_t w) {
        return (detail::has_byte(w, '\n') | detail::has_byte(w, '\r')) != 0;
    });
}

bool has_html_special(std::string_view in) noexcept {
    return any_word(in, [](std::uint64_t w) {
        return (detail::has_byte(w, '&') | detail::has_byte(w, '<') | detail::has_byte(w, '>') |
                detail::has_byte(w, '"') | detail::has_byte(w, '\'')) != 0;
    });
}

bool json_unescape(std::string_view in, std::string& out) {
    // Most text (a rendered MessageId, an address) has nothing escaped.
    if (in.empty()) return true;
    if (std::memchr(in.data(), '\\', in.size()) == nullptr) {
        out.append(in);
        return true;
    }
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c != '\\') {
            out.push_back(c);
            continue;
        }
        if (++i == in.size()) return false;
        switch (in[i]) {
            case '"':
                out.push_back('"');
                break;
            case '\\':
                out.push_back('\\');
                break;
            case '/':
                out.push_back('/');
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'u': {
                std::uint32_t cp = 0;
                if (!read_hex4(in, i + 1, cp)) return false;
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    std::uint32_t lo = 0;
                    if (i + 2 >= in.size() || in[i + 1] != '\\' || in[i + 2] != 'u' ||
                        !read_hex4(in, i + 3, lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return false;
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    return false;
                }
                append_utf8(out, cp);
                break;
            }
            default:
                return false;
        }
    }
    return true;
}

}  // namespace salvo::merge
