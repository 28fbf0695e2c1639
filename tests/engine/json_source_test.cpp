#include <salvo/engine/source.hpp>

#include "source_helpers.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <charconv>

namespace salvo::engine {
namespace {

using test::read_all;
using test::temp_dir;

TEST(JsonSource, ArrayOfFlatObjectsWithValueTyping) {
    temp_dir dir;
    auto p = dir.write("r.json", R"([
  {"email": "a@x.io", "name": "Ann", "score": 1.50, "vip": true, "note": null},
  {"email": "b@x.io", "vip": false, "extra": "ignored", "score": -2e3},
  {"name": "Cy \"C\" \u00e9", "email": "c@x.io"}
])");
    auto d = read_all(p);
    ASSERT_EQ(d.fields.size(), 5u);
    EXPECT_EQ(d.fields[2].name, "score");
    ASSERT_EQ(d.rows.size(), 3u);
    EXPECT_EQ(d.rows[0].at(0), "a@x.io");
    EXPECT_EQ(d.rows[0].at(2), "1.50");  // numbers as written
    EXPECT_EQ(d.rows[0].at(3), "true");
    ASSERT_TRUE(d.rows[0].values[4].has_value());  // null is empty, not absent
    EXPECT_EQ(*d.rows[0].values[4], "");
    EXPECT_EQ(d.rows[0].line, 2u);
    EXPECT_FALSE(d.rows[1].values[1].has_value());  // an omitted key is absent
    EXPECT_EQ(d.rows[1].at(2), "-2e3");
    EXPECT_EQ(d.rows[1].at(3), "false");
    EXPECT_EQ(d.rows[2].at(1), "Cy \"C\" \xC3\xA9");  // unescaped
    EXPECT_EQ(d.rows[2].row, 3u);
    EXPECT_EQ(d.rows[2].line, 4u);
    for (auto& r : d.rows) EXPECT_TRUE(r.valid()) << r.message;
}

TEST(JsonSource, NestedValueAndBadElementCostOneRowEach) {
    temp_dir dir;
    auto p = dir.write("n.json",
                       "[{\"email\":\"a@x.io\",\"name\":\"A\"},\n"
                       "{\"email\":\"b@x.io\",\"name\":{\"first\":\"B\"}},\n"
                       "{\"email\":\"c@x.io\",\"name\":[1,2]},\n"
                       "{\"email\":\"d@x.io\",\"name\":},\n"
                       "42,\n"
                       "{\"email\":\"e@x.io\",\"name\":\"E\"}]");
    auto d = read_all(p);
    ASSERT_EQ(d.rows.size(), 6u);
    EXPECT_TRUE(d.rows[0].valid());
    EXPECT_EQ(d.rows[1].error, errc::nested_value);
    EXPECT_NE(d.rows[1].message.find("n.json: row 2, line 2: field 'name' holds a nested object"),
              std::string::npos)
        << d.rows[1].message;
    EXPECT_EQ(d.rows[2].error, errc::nested_value);
    EXPECT_NE(d.rows[2].message.find("nested array"), std::string::npos);
    EXPECT_EQ(d.rows[3].error, errc::bad_json);
    EXPECT_EQ(d.rows[4].error, errc::bad_json);
    EXPECT_NE(d.rows[4].message.find("not a JSON object"), std::string::npos);
    EXPECT_TRUE(d.rows[5].valid());
    EXPECT_EQ(d.rows[5].at(1), "E");
    EXPECT_EQ(d.rows[5].line, 6u);
}

// Found by the bad-input corpus (tests/data/bad/): "\u0000" in a name was
// merged into the request; now it is invalid like a NUL in a CSV value.
TEST(JsonSource, NulByteRawOrEscapedMakesThatRowInvalid) {
    temp_dir dir;
    std::string lines = "{\"email\":\"a@x.io\",\"name\":\"A\\u0000a\"}\n";
    lines += "{\"email\":\"b@x.io\",\"name\":\"B";
    lines += '\0';
    lines += "b\"}\n{\"email\":\"c@x.io\",\"name\":\"C\\u0041\"}\n";
    auto d = read_all(dir.write("r.ndjson", lines));
    ASSERT_EQ(d.rows.size(), 3u);
    EXPECT_EQ(d.rows[0].error, errc::nul_byte);
    EXPECT_NE(d.rows[0].message.find("row 1, line 1: field 'name' holds a NUL byte"),
              std::string::npos)
        << d.rows[0].message;
    EXPECT_FALSE(d.rows[1].valid());  // raw: a NUL byte, or not JSON at all
    EXPECT_TRUE(d.rows[2].valid());
    EXPECT_EQ(d.rows[2].at(1), "CA");
}

TEST(JsonSource, StrayClosingBraceIsOneBadRow) {
    temp_dir dir;
    auto d = read_all(dir.write("s.json", R"([{"email":"a@x.io"}},{"email":"b@x.io"}])"));
    ASSERT_EQ(d.rows.size(), 3u);
    EXPECT_TRUE(d.rows[0].valid());
    EXPECT_EQ(d.rows[1].error, errc::bad_json);
    EXPECT_TRUE(d.rows[2].valid());
    EXPECT_EQ(d.rows[2].at(0), "b@x.io");
}

TEST(JsonSource, NotAnArrayIsAJobError) {
    temp_dir dir;
    auto obj = open_source(dir.write("o.json", "{\"email\":\"a@x.io\"}\n"));
    ASSERT_FALSE(obj);
    EXPECT_EQ(obj.error().code, make_error_code(errc::not_the_format));
    EXPECT_NE(obj.error().message.find("ndjson"), std::string::npos);
    auto text = open_source(dir.write("t.ndjson", "email\na@x.io\n"));
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().code, make_error_code(errc::not_the_format));
}

TEST(JsonSource, EmptyAndEmptyArrayGiveNoRows) {
    temp_dir dir;
    auto e = read_all(dir.write("e.json", ""));
    EXPECT_TRUE(e.rows.empty());
    auto a = read_all(dir.write("a.json", " [ ] \n"));
    EXPECT_TRUE(a.rows.empty());
    auto n = read_all(dir.write("n.ndjson", "\n\n"));
    EXPECT_TRUE(n.rows.empty());
}

TEST(NdjsonSource, BadLineCostsOneRowAndBlankLinesAreSkipped) {
    temp_dir dir;
    auto p = dir.write("r.ndjson",
                       "{\"email\":\"a@x.io\",\"n\":1}\n"
                       "\n"
                       "{\"email\":\"b@x.io\",\"n\":\n"
                       "{\"email\":\"c@x.io\",\"n\":3}\r\n"
                       "[1]\n"
                       "{\"email\":\"d@x.io\"}\n"
                       "{\"email\":\"e@x.io\"} {\"email\":\"f@x.io\"}");
    auto d = read_all(p);
    ASSERT_EQ(d.fields.size(), 2u);
    ASSERT_EQ(d.rows.size(), 6u);
    EXPECT_EQ(d.rows[5].error, errc::bad_json);
    EXPECT_NE(d.rows[5].message.find("text after the object"), std::string::npos);
    EXPECT_TRUE(d.rows[0].valid());
    EXPECT_EQ(d.rows[1].error, errc::bad_json);
    EXPECT_EQ(d.rows[1].row, 2u);
    EXPECT_EQ(d.rows[1].line, 3u);
    EXPECT_NE(d.rows[1].message.find("r.ndjson: row 2, line 3"), std::string::npos);
    EXPECT_EQ(d.rows[2].at(1), "3");
    EXPECT_EQ(d.rows[2].line, 4u);
    EXPECT_EQ(d.rows[3].error, errc::bad_json);
    EXPECT_EQ(d.rows[4].at(0), "d@x.io");
    EXPECT_FALSE(d.rows[4].values[1].has_value());
}

TEST(NdjsonSource, GivenFieldListAndGzip) {
    temp_dir dir;
    std::string body;
    for (int i = 0; i < 3000; ++i) {
        body +=
            "{\"id\":" + std::to_string(i) + ",\"email\":\"u" + std::to_string(i) + "@x.io\"}\n";
    }
    std::string path = dir.path("r.jsonl.gz");
    gzFile gz = gzopen(path.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_GT(gzwrite(gz, body.data(), static_cast<unsigned>(body.size())), 0);
    gzclose(gz);
    source_options o;
    o.fields = {"email", "missing"};
    auto d = read_all(path, o);
    ASSERT_EQ(d.fields.size(), 2u);
    ASSERT_EQ(d.rows.size(), 3000u);
    EXPECT_EQ(d.rows[2999].at(0), "u2999@x.io");
    EXPECT_FALSE(d.rows[2999].values[1].has_value());
}

TEST(JsonSource, InvalidUtf8AndUnclosedElement) {
    temp_dir dir;
    std::string json = "[";
    for (int i = 0; i < 5; ++i) json += "{\"email\":\"u" + std::to_string(i) + "@x.io\"},\n";
    json += "{\"email\":\"bad\xff@x.io\"},\n{\"email\":\"last@x.io\"},\n{\"email\": \"open\n";
    auto d = read_all(dir.write("u.json", json));
    ASSERT_EQ(d.rows.size(), 8u);
    EXPECT_EQ(d.rows[5].error, errc::invalid_utf8);
    EXPECT_TRUE(d.rows[6].valid());
    EXPECT_EQ(d.rows[7].error, errc::bad_json);
    EXPECT_NE(d.rows[7].message.find("never closed"), std::string::npos);
}

TEST(JsonSource, TinyChunksGiveTheSameRows) {
    temp_dir dir;
    std::string json = "[\n";
    for (int i = 0; i < 200; ++i) {
        std::string n = std::to_string(i);
        json += "  {\"email\": \"u" + n +
                "@x.io\", \"note\": \"a, \\\"b\\\" {c} [d]\", \"n\": " + n + "}" +
                (i + 1 < 200 ? ",\n" : "\n");
    }
    json += "]\n";
    auto p = dir.write("m.json", json);
    auto big = read_all(p);
    source_options o;
    o.chunk_bytes = 64;
    auto small = read_all(p, o);
    ASSERT_EQ(big.rows.size(), 200u);
    ASSERT_EQ(small.rows.size(), 200u);
    for (std::size_t i = 0; i < 200; ++i) {
        EXPECT_EQ(big.rows[i].values, small.rows[i].values);
        EXPECT_EQ(small.rows[i].line, i + 2);
        EXPECT_TRUE(small.rows[i].valid()) << small.rows[i].message;
    }
    EXPECT_EQ(small.rows[7].at(1), "a, \"b\" {c} [d]");
}

// A million small objects stream through a few fixed-size chunk buffers.
TEST(JsonSource, MillionObjectArrayInBoundedMemory) {
    temp_dir dir;
    std::string path = dir.path("million.json");
    {
        std::string block;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fputs("[", f);
        char num[24];
        for (int i = 0; i < 1000000; ++i) {
            auto n = std::to_chars(num, num + sizeof num, i).ptr - num;
            const std::string_view id(num, static_cast<std::size_t>(n));
            block.append("{\"email\":\"u").append(id).append("@x.io\",\"n\":").append(id);
            block.append(i + 1 < 1000000 ? "},\n" : "}]\n");
            if (block.size() > (1 << 16)) {
                std::fwrite(block.data(), 1, block.size(), f);
                block.clear();
            }
        }
        std::fwrite(block.data(), 1, block.size(), f);
        std::fclose(f);
    }
    source_options o;
    o.chunk_bytes = 256 * 1024;
    auto src = open_source(path, o);
    ASSERT_TRUE(src) << src.error().message;
    chunk c;
    std::size_t rows = 0, max_memory = 0, invalid = 0;
    std::uint64_t last_row = 0;
    for (;;) {
        auto more = (*src)->next_chunk(c);
        ASSERT_TRUE(more);
        max_memory = std::max(max_memory, c.memory_bytes());
        for (std::size_t i = 0; i < c.size(); ++i) {
            if (!c.info(i).valid()) ++invalid;
            last_row = c.info(i).row;
        }
        rows += c.size();
        if (!*more) break;
    }
    EXPECT_EQ(rows, 1000000u);
    EXPECT_EQ(last_row, 1000000u);
    EXPECT_EQ(invalid, 0u);
    // The file is ~33 MB; a chunk holds its 256 KiB buffer plus row tables.
    EXPECT_LT(max_memory, 2u * 1024 * 1024);
}

}  // namespace
}  // namespace salvo::engine
