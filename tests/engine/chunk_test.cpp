#include <salvo/engine/chunk.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>

namespace salvo::engine {
namespace {

TEST(Chunk, ViewsSurviveAMoveToAnotherOwner) {
    chunk a;
    a.reset(2);
    a.reserve_buffer(64, 0);
    std::memcpy(a.buffer(), "ann@x.io", 8);
    std::string_view* v = a.add_row(1, 2);
    v[0] = std::string_view(a.buffer(), 8);
    v[1] = a.store("unescaped \"value\"");
    a.fail_last(errc::field_count, "r.csv: row 1, line 2: 1 field, the header has 2");

    chunk b = std::move(a);  // as the pipeline hands a chunk to another thread
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b.values(0)[0], "ann@x.io");
    EXPECT_EQ(b.values(0)[1], "unescaped \"value\"");
    EXPECT_EQ(b.info(0).row, 1u);
    EXPECT_EQ(b.info(0).line, 2u);
    EXPECT_FALSE(b.info(0).valid());
    EXPECT_EQ(b.info(0).message, "r.csv: row 1, line 2: 1 field, the header has 2");
}

TEST(Chunk, ShortRowsArePaddedWithAbsentValues) {
    chunk c;
    c.reset(3);
    const std::string_view one[] = {"x"};
    c.add_row(1, 1, one, 1);
    c.add_row(2, 2, nullptr, 0);
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c.values(0)[0], "x");
    EXPECT_TRUE(merge::is_absent(c.values(0)[1]));
    EXPECT_TRUE(merge::is_absent(c.values(1)[2]));
    // An empty stored value is present, not absent.
    EXPECT_FALSE(merge::is_absent(c.store("")));
}

TEST(Chunk, ResetKeepsMemoryButDropsRows) {
    chunk c;
    c.reset(1);
    c.reserve_buffer(1024, 0);
    for (int i = 0; i < 1000; ++i) (void)c.store("some value that needs the arena");
    const std::string_view v[] = {"a"};
    c.add_row(1, 1, v, 1);
    c.reset(1);
    EXPECT_TRUE(c.empty());
    EXPECT_EQ(c.buffer_capacity(), 1024u);
    EXPECT_LT(c.memory_bytes(), 1024u + chunk::padding + 128u * 1024);
}

}  // namespace
}  // namespace salvo::engine
