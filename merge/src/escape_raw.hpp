#pragma once
// Raw-pointer escapers behind escape.hpp and the expansion loop. Each
// `write_*` writes at `dst`, which must have room for max_expansion times the
// input, and returns the end of what it wrote. Clean 8-byte words (the common
// case for names, cities, codes) are found with SWAR tests and copied whole.

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace salvo::merge::detail {

/// The most bytes one input byte can become (`\u00XX`, `&quot;`).
inline constexpr std::size_t max_expansion = 6;

// Byte classes: 0 copy as is, 1 JSON escape, 2 HTML entity.
constexpr std::array<std::uint8_t, 256> make_class_table(bool html) {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 1;
    t['"'] = 1;
    t['\\'] = 1;
    if (html) {
        t['&'] = 2;
        t['<'] = 2;
        t['>'] = 2;
        t['"'] = 2;
        t['\''] = 2;
    }
    return t;
}
inline constexpr auto json_class = make_class_table(false);
inline constexpr auto html_class = make_class_table(true);

inline constexpr char hex_upper[] = "0123456789ABCDEF";

inline constexpr std::uint64_t ones = 0x0101010101010101ULL;
inline constexpr std::uint64_t highs = 0x8080808080808080ULL;

// Nonzero when some byte of w is zero / less than n (n <= 0x80). May flag a
// byte above a true hit as well; callers use it only to leave the fast path.
constexpr std::uint64_t has_zero(std::uint64_t w) {
    return (w - ones) & ~w & highs;
}
constexpr std::uint64_t has_less(std::uint64_t w, std::uint8_t n) {
    return (w - ones * n) & ~w & highs;
}
constexpr std::uint64_t has_byte(std::uint64_t w, char c) {
    return has_zero(w ^ (ones * static_cast<std::uint8_t>(c)));
}

constexpr std::uint64_t json_dirty(std::uint64_t w) {
    return has_less(w, 0x20) | has_byte(w, '"') | has_byte(w, '\\');
}
constexpr std::uint64_t html_dirty(std::uint64_t w) {
    return json_dirty(w) | has_byte(w, '&') | has_byte(w, '<') | has_byte(w, '>') |
           has_byte(w, '\'');
}

inline char* write_json_escape_of(char* p, unsigned char c) {
    const auto two = [&](char b) {
        p[0] = '\\';
        p[1] = b;
        return p + 2;
    };
    switch (c) {
        case '"':
            return two('"');
        case '\\':
            return two('\\');
        case '\n':
            return two('n');
        case '\r':
            return two('r');
        case '\t':
            return two('t');
        case '\b':
            return two('b');
        case '\f':
            return two('f');
        default:
            std::memcpy(p, "\\u00", 4);
            p[4] = hex_upper[c >> 4];
            p[5] = hex_upper[c & 0xF];
            return p + 6;
    }
}

inline char* write_html_entity_of(char* p, unsigned char c) {
    const auto put = [&](const char* s, std::size_t n) {
        std::memcpy(p, s, n);
        return p + n;
    };
    switch (c) {
        case '&':
            return put("&amp;", 5);
        case '<':
            return put("&lt;", 4);
        case '>':
            return put("&gt;", 4);
        case '"':
            return put("&quot;", 6);
        default:
            return put("&#39;", 5);  // '\''
    }
}

template <bool Html>
constexpr bool is_dirty(std::uint64_t w) {
    return (Html ? html_dirty(w) : json_dirty(w)) != 0;
}

template <bool Html>
inline char* write_escaped_slow(char* p, const char* s, std::size_t n) {
    constexpr const auto& table = Html ? html_class : json_class;
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::uint8_t k = table[c];
        if (k == 0)
            *p++ = static_cast<char>(c);
        else if (k == 1)
            p = write_json_escape_of(p, c);
        else
            p = write_html_entity_of(p, c);
    }
    return p;
}

// Copies 1 to 7 bytes with two overlapping fixed-size moves when none of
// them needs escaping; returns nullptr (and writes nothing) otherwise.
template <bool Html>
inline char* write_small_clean(char* p, const char* s, std::size_t n) {
    constexpr std::uint64_t pad = ones * static_cast<std::uint8_t>('A');
    if (n >= 4) {
        std::uint32_t a, b;
        std::memcpy(&a, s, 4);
        std::memcpy(&b, s + n - 4, 4);
        if (is_dirty<Html>(a | (std::uint64_t{b} << 32))) return nullptr;
        std::memcpy(p, &a, 4);
        std::memcpy(p + n - 4, &b, 4);
    } else if (n >= 2) {
        std::uint16_t a, b;
        std::memcpy(&a, s, 2);
        std::memcpy(&b, s + n - 2, 2);
        if (is_dirty<Html>((pad & ~0xFFFFFFFFULL) | a | (std::uint64_t{b} << 16))) return nullptr;
        std::memcpy(p, &a, 2);
        std::memcpy(p + n - 2, &b, 2);
    } else {
        const auto c = static_cast<unsigned char>(s[0]);
        if (is_dirty<Html>((pad & ~0xFFULL) | c)) return nullptr;
        *p = static_cast<char>(c);
    }
    return p + n;
}

template <bool Html>
inline char* write_escaped(char* p, std::string_view in) {
    const char* s = in.data();
    const std::size_t n = in.size();
    if (n < 8) {
        if (n == 0) return p;
        if (char* end = write_small_clean<Html>(p, s, n)) return end;
        return write_escaped_slow<Html>(p, s, n);
    }
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s + i, 8);
        if (!is_dirty<Html>(w)) {
            std::memcpy(p, &w, 8);
            p += 8;
        } else {
            p = write_escaped_slow<Html>(p, s + i, 8);
        }
    }
    const std::size_t rest = n - i;
    if (rest == 0) return p;
    // The tail: test the last 8 input bytes as one word. When all are clean,
    // the (8 - rest) bytes before the tail were written out unchanged, one
    // byte each, just before p, so one 8-byte store ending at p + rest
    // rewrites them with the same bytes and adds the tail.
    std::uint64_t w;
    std::memcpy(&w, s + n - 8, 8);
    if (!is_dirty<Html>(w)) {
        std::memcpy(p + rest - 8, &w, 8);
        return p + rest;
    }
    return write_escaped_slow<Html>(p, s + i, rest);
}

constexpr std::array<bool, 256> make_unreserved_table() {
    std::array<bool, 256> t{};
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
    t['-'] = t['.'] = t['_'] = t['~'] = true;
    return t;
}
inline constexpr auto unreserved = make_unreserved_table();

inline char* write_url_encoded(char* p, std::string_view in) {
    for (const char ch : in) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved[c]) {
            *p++ = ch;
        } else {
            p[0] = '%';
            p[1] = hex_upper[c >> 4];
            p[2] = hex_upper[c & 0xF];
            p += 3;
        }
    }
    return p;
}

}  // namespace salvo::merge::detail
