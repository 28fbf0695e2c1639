#pragma once
/// The escapers that every value goes through on its way into a request
/// body. They append to a caller-owned buffer and never allocate beyond
/// the buffer's own growth. Pure functions: safe from any thread.

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string>
#include <string_view>

namespace salvo::merge {

/// Appends `in` to `out` as the inside of a JSON string: `"` and `\`
/// backslash-escaped, control characters below 0x20 as `\n`, `\r`, `\t`,
/// `\b`, `\f` or `\u00XX`. Other bytes, UTF-8 included, are copied as is.
void append_json_escaped(std::string& out, std::string_view in);

/// Appends `in` HTML-escaped (`& < > " '` as `&amp; &lt; &gt; &quot; &#39;`)
/// and then JSON-escaped, in one pass.
void append_html_json_escaped(std::string& out, std::string_view in);

/// Appends the RFC 3986 percent-encoding of the bytes of `in`: unreserved
/// `A-Z a-z 0-9 - . _ ~` are kept, every other byte becomes `%XX` with
/// upper-case hex. The output is plain ASCII and needs no JSON escaping.
void append_url_encoded(std::string& out, std::string_view in);

/// The most bytes the escapers write for one input byte (`\u00XX`,
/// `&quot;`).
inline constexpr std::size_t max_escaped_growth = 6;

/// The same three for a writer that grows its buffer once: each writes at
/// `dst`, which must have room for max_escaped_growth * in.size() bytes,
/// and returns the end of what it wrote.
char* write_json_escaped(char* dst, std::string_view in) noexcept;
char* write_html_json_escaped(char* dst, std::string_view in) noexcept;
char* write_url_encoded(char* dst, std::string_view in) noexcept;

/// Appends to `out` what `write(char* at)` writes at `at` (at most `bound`
/// bytes; it returns the end of what it wrote): one grow of the string and
/// then raw stores, no capacity check a piece. Where the standard library
/// has resize_and_overwrite (C++23) the grown bytes are not zero-filled.
template <typename Write>
void append_written(std::string& out, std::size_t bound, Write&& write) {
    const std::size_t mark = out.size();
#if defined(__cpp_lib_string_resize_and_overwrite)
    out.resize_and_overwrite(mark + bound, [&](char* data, std::size_t) {
        return static_cast<std::size_t>(write(data + mark) - data);
    });
#else
    out.resize(mark + bound);
    out.resize(static_cast<std::size_t>(write(out.data() + mark) - out.data()));
#endif
}

/// True when `in` holds a CR or an LF byte (the header-injection guard).
[[nodiscard]] bool has_line_break(std::string_view in) noexcept;

/// True when `in` holds a byte HTML escaping changes: & < > " or '.
[[nodiscard]] bool has_html_special(std::string_view in) noexcept;

/// What escaping would change in a value, one bit each (byte_classes()).
enum byte_class : unsigned {
    class_json = 1,        ///< `"`, `\` or a control byte below 0x20: JSON escapes it
    class_html = 2,        ///< `& < > " '`: HTML escaping changes it
    class_line_break = 4,  ///< CR or LF (a control byte too: class_json is set)
};

#if defined(__SSE2__)
namespace detail {
/// Per byte of a 16-byte block: 0xFF where JSON escapes it (`"`, `\`, a
/// byte up to 0x1F: unsigned min(v, 0x1F) == v), and where HTML escaping
/// changes it (`& < > " '`). The escapers' block tests use the same two.
inline __m128i json_bytes(__m128i v) noexcept {
    return _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v),
                        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}
inline __m128i html_bytes(__m128i v) noexcept {
    const auto eq = [&](char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
    return _mm_or_si128(_mm_or_si128(_mm_or_si128(eq('"'), eq('&')), eq('\'')),
                        _mm_or_si128(eq('<'), eq('>')));
}
}  // namespace detail
#endif

/// Every class some byte of `in` is in, in one pass (16 bytes at a time
/// where the CPU has SSE2): what has_line_break(), has_html_special() and
/// the escapers' scans would find, for one value that several fields read.
/// Inline: a caller classifying a row's values keeps the constants in
/// registers across them.
[[nodiscard]] inline unsigned byte_classes(std::string_view in) noexcept {
    const char* s = in.data();
    const std::size_t n = in.size();
#if defined(__SSE2__)
    // Per block of 16: the bytes of each class, gathered as three masks.
    __m128i json = _mm_setzero_si128(), html = json, brk = json;
    const auto block = [&](__m128i v) {
        json = _mm_or_si128(json, detail::json_bytes(v));
        html = _mm_or_si128(html, detail::html_bytes(v));
        brk = _mm_or_si128(brk, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))));
    };
    if (n >= 16) {
        std::size_t i = 0;
        for (; i + 16 < n; i += 16) block(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
        block(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16)));
    } else if (n >= 8) {
        std::uint64_t a, b;
        std::memcpy(&a, s, 8);
        std::memcpy(&b, s + n - 8, 8);
        block(_mm_set_epi64x(static_cast<long long>(b), static_cast<long long>(a)));
    } else if (n != 0) {
        // 1 to 7 bytes, in registers (a stack buffer read back whole stalls
        // on store forwarding), over a filler that is in no class.
        constexpr std::uint64_t filler = 0x0101010101010101ULL * static_cast<std::uint8_t>('A');
        std::uint64_t w;
        if (n >= 4) {
            std::uint32_t a, b;
            std::memcpy(&a, s, 4);
            std::memcpy(&b, s + n - 4, 4);
            w = a | (std::uint64_t{b} << 32);
        } else {
            w = (filler & ~0xFFFFFFULL) | static_cast<unsigned char>(s[0]) |
                (std::uint64_t{static_cast<unsigned char>(s[n / 2])} << 8) |
                (std::uint64_t{static_cast<unsigned char>(s[n - 1])} << 16);
        }
        block(_mm_set_epi64x(static_cast<long long>(filler), static_cast<long long>(w)));
    }
    return (_mm_movemask_epi8(json) != 0 ? class_json : 0u) |
           (_mm_movemask_epi8(html) != 0 ? class_html : 0u) |
           (_mm_movemask_epi8(brk) != 0 ? class_line_break : 0u);
#else
    unsigned c = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x20 || u == '"' || u == '\\') c |= class_json;
        if (u == '&' || u == '<' || u == '>' || u == '"' || u == '\'') c |= class_html;
        if (u == '\n' || u == '\r') c |= class_line_break;
    }
    return c;
#endif
}

/// Copies `in` to `dst` as it is (a value byte_classes() found clean) and
/// returns the end: short values in two overlapping fixed-size moves, not a
/// call to memcpy.
inline char* write_plain(char* dst, std::string_view in) noexcept {
    const char* s = in.data();
    const std::size_t n = in.size();
    if (n >= 16) {
        std::memcpy(dst, s, n);
    } else if (n >= 8) {
        std::uint64_t a, b;
        std::memcpy(&a, s, 8);
        std::memcpy(&b, s + n - 8, 8);
        std::memcpy(dst, &a, 8);
        std::memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        std::uint32_t a, b;
        std::memcpy(&a, s, 4);
        std::memcpy(&b, s + n - 4, 4);
        std::memcpy(dst, &a, 4);
        std::memcpy(dst + n - 4, &b, 4);
    } else if (n != 0) {
        dst[0] = s[0];
        dst[n / 2] = s[n / 2];
        dst[n - 1] = s[n - 1];
    }
    return dst + n;
}

/// Reverses append_json_escaped (and any valid JSON string escape, including
/// `\uXXXX` with surrogate pairs, written as UTF-8). Returns false on a
/// malformed escape. For tests and tools, not the hot path.
[[nodiscard]] bool json_unescape(std::string_view in, std::string& out);

}  // namespace salvo::merge
