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

#include <salvo/merge/escape.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
// Nonzero when some byte of v needs escaping (as is_dirty, 16 at a time).
template <bool Html>
inline int dirty_bits(__m128i v) {
    const __m128i d = json_bytes(v);
    if constexpr (Html) return _mm_movemask_epi8(_mm_or_si128(d, html_bytes(v)));
    return _mm_movemask_epi8(d);
}
#endif

template <bool Html>
inline char* write_escaped(char* p, std::string_view in) {
#if defined(__SSE2__)
    // 16 clean bytes at a time (an address, a MessageId in a results
    // line); from the first block with something to escape, 8 at a time.
    if (in.size() >= 16) {
        const char* s = in.data();
        const std::size_t n = in.size();
        std::size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
            if (dirty_bits<Html>(v) != 0) break;
            _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
            p += 16;
        }
        if (i + 16 > n) {
            // Every block was clean, so the 16 - rest bytes before p are the
            // input's: one store of the last 16 rewrites them and adds the tail.
            const std::size_t rest = n - i;
            if (rest == 0) return p;
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16));
            if (dirty_bits<Html>(v) == 0) {
                _mm_storeu_si128(reinterpret_cast<__m128i*>(p + rest - 16), v);
                return p + rest;
            }
        }
        in.remove_prefix(i);
    }
#endif
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

#if defined(__SSE2__)
// A bit per byte of v: set for the unreserved ones. Signed compares: bytes
// from 0x80 are negative and fall in no range, as they should.
inline unsigned unreserved_bits(__m128i v) {
    const auto in = [](__m128i x, char lo, char hi) {
        return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                             _mm_cmpgt_epi8(_mm_set1_epi8(static_cast<char>(hi + 1)), x));
    };
    const auto eq = [&](char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
    // Letters of either case: '@' and '[' become '`' and '{', outside.
    const __m128i letter = in(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    const __m128i keep =
        _mm_or_si128(_mm_or_si128(letter, in(v, '0', '9')),
                     _mm_or_si128(_mm_or_si128(eq('-'), eq('.')), _mm_or_si128(eq('_'), eq('~'))));
    return static_cast<unsigned>(_mm_movemask_epi8(keep));
}
#endif

inline char* write_url_encoded(char* p, std::string_view in) {
#if defined(__SSE2__)
    // 16 bytes at a time: the block is stored whole and the run of
    // unreserved bytes it starts with is kept; the first reserved byte is
    // encoded over the rest. The 16-byte store fits: at least 16 bytes are
    // left to read, and the caller's room is max_expansion (6) times the
    // input, of which at most 3 a byte read so far is used.
    const char* s = in.data();
    const std::size_t n = in.size();
    std::size_t i = 0;
    while (i + 16 <= n) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        const unsigned keep = unreserved_bits(v);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
        if (keep == 0xFFFF) {
            p += 16;
            i += 16;
            continue;
        }
        const auto run = static_cast<std::size_t>(__builtin_ctz(~keep));
        p += run;
        i += run;
        const auto c = static_cast<unsigned char>(s[i++]);
        p[0] = '%';
        p[1] = hex_upper[c >> 4];
        p[2] = hex_upper[c & 0xF];
        p += 3;
    }
    in.remove_prefix(i);
#endif
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
