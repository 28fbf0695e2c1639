// row_bits: the ledger's decided rows, a bit a row in blocks that are
// added, never copied.
#include "row_bits.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace salvo::engine::detail {
namespace {

TEST(RowBits, HoldsWhatWasSetAcrossBlocksAndNothingElse) {
    row_bits bits;
    const std::uint64_t block = row_bits::block_rows;
    // Rows at the edges of blocks, one far block with gaps before it, and
    // random rows; then some of them reset.
    std::set<std::uint64_t> want = {0, 1, 63, 64, block - 1, block, block + 1, 7 * block + 5};
    std::mt19937_64 random(13);
    for (int i = 0; i < 2000; ++i) want.insert(random() % (3 * block));
    for (const auto row : want) EXPECT_TRUE(bits.set(row)) << "row " << row;
    for (const auto row : want) EXPECT_FALSE(bits.set(row)) << "row " << row << " again";
    for (const auto row : {std::uint64_t{1}, block, std::uint64_t{7 * block + 5}}) {
        bits.reset(row);
        want.erase(row);
    }
    bits.reset(100 * block);  // never made: nothing to do

    for (std::uint64_t row = 0; row < 8 * block + 64; ++row)
        ASSERT_EQ(bits.test(row), want.count(row) != 0) << "row " << row;
    EXPECT_FALSE(bits.test(1'000'000'000'000));
    // Blocks 0, 1, 2 and 7: the ones between are never made.
    EXPECT_EQ(bits.bytes(), 4 * block / 8);
}

TEST(RowBits, TakesTheBitsOfAVectorOfBool) {
    std::vector<bool> from(row_bits::block_rows + 100);
    for (std::size_t i = 0; i < from.size(); i += 3) from[i] = true;
    const row_bits bits(from);
    for (std::uint64_t row = 0; row < from.size() + 10; ++row)
        ASSERT_EQ(bits.test(row), row < from.size() && from[row]) << "row " << row;
}

}  // namespace
}  // namespace salvo::engine::detail
