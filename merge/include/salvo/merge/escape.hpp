#pragma once
/// The escapers that every value goes through on its way into a request
/// body. They append to a caller-owned buffer and never allocate beyond
/// the buffer's own growth. Pure functions: safe from any thread.

#include <cstddef>
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

/// Reverses append_json_escaped (and any valid JSON string escape, including
/// `\uXXXX` with surrogate pairs, written as UTF-8). Returns false on a
/// malformed escape. For tests and tools, not the hot path.
[[nodiscard]] bool json_unescape(std::string_view in, std::string& out);

}  // namespace salvo::merge
