#include "test_util.hpp"

#include <salvo/merge/escape.hpp>

#include <gtest/gtest.h>

namespace salvo::merge {
namespace {

std::string json(std::string_view in) {
    std::string out;
    append_json_escaped(out, in);
    return out;
}

TEST(Escape, JsonEscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(json("plain"), "plain");
    EXPECT_EQ(json("a\"b\\c"), R"(a\"b\\c)");
    EXPECT_EQ(json("\n\r\t\b\f"), R"(\n\r\t\b\f)");
    EXPECT_EQ(json(std::string_view("\x00\x1f", 2)), R"(\u0000\u001F)");
    EXPECT_EQ(json("é/<>&'"), "é/<>&'");
}

TEST(Escape, HtmlThenJson) {
    std::string out;
    append_html_json_escaped(out, "<a href=\"x\">&'\n");
    EXPECT_EQ(out, R"(&lt;a href=&quot;x&quot;&gt;&amp;&#39;\n)");
}

TEST(Escape, UrlEncodingKeepsOnlyUnreserved) {
    std::string out;
    append_url_encoded(out, "AZaz09-._~ !*'()%/é");
    EXPECT_EQ(out, "AZaz09-._~%20%21%2A%27%28%29%25%2F%C3%A9");
}

// The encoder takes 16 bytes at a time (with SSE2) and the rest a byte
// each: every byte value, at every place of a block and of the tail, alone
// and followed by a reserved byte further on, must come out as the
// byte-by-byte rule says.
TEST(Escape, UrlEncodingEveryByteAtEveryPlace) {
    for (std::size_t size = 1; size <= 40; ++size) {
        for (std::size_t at = 0; at < size; ++at) {
            for (int c = 0; c < 256; ++c) {
                std::string in(size, 'm');
                in[at] = static_cast<char>(c);
                std::string out;
                append_url_encoded(out, in);
                ASSERT_EQ(out, test::url_encode(in))
                    << "byte " << c << " at " << at << " of " << size;
                if (at + 5 < size) {
                    in[at + 5] = '@';
                    out.clear();
                    append_url_encoded(out, in);
                    ASSERT_EQ(out, test::url_encode(in))
                        << "byte " << c << " at " << at << " of " << size << ", '@' after";
                }
            }
        }
    }
    std::string out;
    append_url_encoded(out, "user123@mail45.example.com");
    EXPECT_EQ(out, "user123%40mail45.example.com");
}

TEST(Escape, LineBreakDetection) {
    EXPECT_FALSE(has_line_break("abc"));
    EXPECT_TRUE(has_line_break("a\nb"));
    EXPECT_TRUE(has_line_break("a\rb"));
    EXPECT_FALSE(has_line_break(""));
}

// Every length the word-at-a-time test handles apart (1-3, 4-7, 8-64, and
// memchr beyond), a CR or an LF at every position, and no false alarm from
// any other byte value.
TEST(Escape, LineBreakDetectionAtEveryPositionAndLength) {
    for (std::size_t n = 0; n <= 80; ++n) {
        for (int c = 0; c < 256; ++c) {
            if (c == '\n' || c == '\r') continue;
            const std::string clean(n, static_cast<char>(c));
            ASSERT_FALSE(has_line_break(clean)) << "length " << n << ", byte " << c;
        }
        for (std::size_t at = 0; at < n; ++at)
            for (const char brk : {'\n', '\r'}) {
                std::string v(n, 'x');
                v[at] = brk;
                ASSERT_TRUE(has_line_break(v)) << "length " << n << ", at " << at;
                std::string high(n, static_cast<char>(0x8A));  // 0x8A: LF's bits and the high one
                high[at] = brk;
                ASSERT_TRUE(has_line_break(high)) << "length " << n << ", at " << at;
            }
    }
}

// The same for the bytes HTML escaping changes: each of & < > " ' at every
// position of every length the word-at-a-time test handles apart, over any
// other byte value, and no false alarm from those values alone.
TEST(Escape, HtmlSpecialDetectionAtEveryPositionAndLength) {
    const std::string_view special = "&<>\"'";
    for (std::size_t n = 0; n <= 80; ++n) {
        for (int c = 0; c < 256; ++c) {
            if (special.find(static_cast<char>(c)) != std::string_view::npos) continue;
            const std::string clean(n, static_cast<char>(c));
            ASSERT_FALSE(has_html_special(clean)) << "length " << n << ", byte " << c;
            for (std::size_t at = 0; at < n; at += 1 + n / 8)
                for (const char s : special) {
                    std::string v = clean;
                    v[at] = s;
                    ASSERT_TRUE(has_html_special(v))
                        << "length " << n << ", at " << at << ", '" << s << "' over " << c;
                }
        }
    }
    EXPECT_FALSE(has_html_special("Ann O%27Neil, S\u00e3o Paulo"));
    EXPECT_TRUE(has_html_special("O'Neil"));
}

// byte_classes() against a byte-at-a-time reference: every byte value at
// every position of every length up to 40 (the 16-byte blocks, the two
// overlapping words of 8 to 15 bytes, the short values in registers), over
// every filler byte, in a view inside a larger buffer (no byte outside it
// may count).
TEST(Escape, ByteClassesOfEveryByteAtEveryPositionAndLength) {
    const auto reference = [](std::string_view v) {
        unsigned c = 0;
        for (const char ch : v) {
            const auto u = static_cast<unsigned char>(ch);
            if (u < 0x20 || u == '"' || u == '\\') c |= class_json;
            if (std::string_view("&<>\"'").find(ch) != std::string_view::npos) c |= class_html;
            if (u == '\n' || u == '\r') c |= class_line_break;
        }
        return c;
    };
    std::string buffer(64, '\n');  // dirty on both sides of the view
    for (std::size_t n = 0; n <= 40; ++n) {
        for (int fill = 0; fill < 256; fill += 5) {
            for (std::size_t i = 0; i < n; ++i) buffer[8 + i] = static_cast<char>(fill);
            buffer[8 + n] = '"';
            const std::string_view clean(buffer.data() + 8, n);
            ASSERT_EQ(byte_classes(clean), reference(clean)) << "length " << n << ", fill " << fill;
        }
        for (std::size_t i = 0; i < n; ++i) buffer[8 + i] = 'x';
        for (std::size_t at = 0; at < n; ++at)
            for (int c = 0; c < 256; ++c) {
                buffer[8 + at] = static_cast<char>(c);
                const std::string_view v(buffer.data() + 8, n);
                ASSERT_EQ(byte_classes(v), reference(v))
                    << "length " << n << ", byte " << c << " at " << at;
                buffer[8 + at] = 'x';
            }
        buffer[8 + n] = '\n';
    }
    EXPECT_EQ(byte_classes("Ann"), 0u);
    EXPECT_EQ(byte_classes("O'Neil"), unsigned{class_html});
    EXPECT_EQ(byte_classes("Example \"Corp\""), unsigned{class_json | class_html});
    EXPECT_EQ(byte_classes("a\r\nb"), unsigned{class_json | class_line_break});
    EXPECT_EQ(byte_classes(std::string_view()), 0u);
}

// write_plain() copies exactly the view's bytes, at every length, and
// writes nothing past them.
TEST(Escape, WritePlainCopiesEveryLengthExactly) {
    std::string source;
    for (int i = 0; i < 48; ++i) source += static_cast<char>('a' + i % 26);
    for (std::size_t n = 0; n <= 40; ++n) {
        std::string out(64, '#');
        const std::string_view v(source.data() + 3, n);
        char* end = write_plain(out.data() + 5, v);
        ASSERT_EQ(end, out.data() + 5 + n);
        EXPECT_EQ(out.substr(0, 5), "#####");
        EXPECT_EQ(std::string_view(out).substr(5, n), v) << "length " << n;
        EXPECT_EQ(out.substr(5 + n), std::string(64 - 5 - n, '#')) << "length " << n;
    }
}

TEST(Escape, UnescapeReversesEscapeForEveryByte) {
    std::string all;
    for (int c = 1; c < 256; ++c) all.push_back(static_cast<char>(c));
    all.push_back('\0');
    std::string back;
    ASSERT_TRUE(json_unescape(json(all), back));
    EXPECT_EQ(back, all);
}

TEST(Escape, UnescapeHandlesSurrogatesAndRejectsMalformed) {
    std::string out;
    ASSERT_TRUE(json_unescape(R"(\ud83d\ude00 \u00e9)", out));
    EXPECT_EQ(out, "😀 é");
    for (const char* bad : {"\\", "\\x", "\\u12", "\\ud83d", "\\ude00", "\\ud83d\\u0041"}) {
        out.clear();
        EXPECT_FALSE(json_unescape(bad, out)) << bad;
    }
}

}  // namespace
}  // namespace salvo::merge

namespace salvo::merge {
namespace {

// The escapers copy clean 8-byte words and short tails whole; check every
// length and every position of a byte that needs escaping against a
// byte-by-byte reference.
std::string reference_escape(std::string_view in, bool html) {
    std::string out;
    for (const char ch : in) {
        const auto c = static_cast<unsigned char>(ch);
        if (html && c == '&')
            out += "&amp;";
        else if (html && c == '<')
            out += "&lt;";
        else if (html && c == '>')
            out += "&gt;";
        else if (html && c == '"')
            out += "&quot;";
        else if (html && c == '\'')
            out += "&#39;";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\b')
            out += "\\b";
        else if (c == '\f')
            out += "\\f";
        else if (c < 0x20) {
            static const char* hex = "0123456789ABCDEF";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else
            out += ch;
    }
    return out;
}

TEST(Escape, EveryLengthAndPositionMatchesReference) {
    // Every byte value (the 16-byte blocks, the 8-byte words and the tails
    // each test their own way).
    std::string specials;
    for (int c = 0; c < 256; ++c) specials += static_cast<char>(c);
    for (std::size_t len = 0; len <= 40; ++len) {
        for (std::size_t pos = 0; pos <= len; ++pos) {
            for (const char special : specials) {
                std::string in(len, 'a');
                for (std::size_t i = 0; i < len; ++i) in[i] = static_cast<char>('a' + i % 26);
                if (pos < len) in[pos] = special;
                for (const bool html : {false, true}) {
                    std::string out = "<";  // appends after existing bytes
                    if (html)
                        append_html_json_escaped(out, in);
                    else
                        append_json_escaped(out, in);
                    ASSERT_EQ(out, "<" + reference_escape(in, html))
                        << "len " << len << " pos " << pos << " html " << html;
                }
            }
        }
    }
}

}  // namespace
}  // namespace salvo::merge
