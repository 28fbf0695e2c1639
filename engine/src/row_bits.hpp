#pragma once
// One bit a row, by row number, for the ledger's decided rows: grown a
// block at a time, never copied. A std::vector<bool> grown by doubling
// held up to three times its bits while it grew (the old bits and the
// doubled copy): a 100 M-row send (12.5 MB of bits) peaked at 94-95 MB of
// RSS with it and at 70 MB with these blocks.

#include <cstdint>
#include <memory>
#include <vector>

namespace salvo::engine::detail {

class row_bits {
  public:
    /// Rows per block: 64 KiB of bits, so a small job's bitmap stays small.
    static constexpr std::uint64_t block_rows = std::uint64_t{1} << 19;

    row_bits() = default;
    /// The bits of `bits`, row i from bits[i].
    explicit row_bits(const std::vector<bool>& bits) {
        for (std::uint64_t row = 0; row < bits.size(); ++row)
            if (bits[row]) set(row);
    }

    /// Marks `row`, adding the blocks up to it; false when it was marked
    /// already (one lookup for the ledger's test-and-mark a row). Throws
    /// std::bad_alloc.
    bool set(std::uint64_t row) {
        const std::uint64_t b = row / block_rows;
        if (b >= blocks_.size()) blocks_.resize(b + 1);
        auto& block = blocks_[b];
        if (!block) block = std::make_unique<std::uint64_t[]>(words);  // zeroed
        const std::uint64_t bit = row % block_rows;
        std::uint64_t& word = block[bit / 64];
        const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
        if ((word & mask) != 0) return false;
        word |= mask;
        return true;
    }

    /// Unmarks `row` (nothing to do for a row never marked).
    void reset(std::uint64_t row) noexcept {
        const std::uint64_t b = row / block_rows;
        if (b >= blocks_.size() || !blocks_[b]) return;
        const std::uint64_t bit = row % block_rows;
        blocks_[b][bit / 64] &= ~(std::uint64_t{1} << (bit % 64));
    }

    [[nodiscard]] bool test(std::uint64_t row) const noexcept {
        const std::uint64_t b = row / block_rows;
        if (b >= blocks_.size() || !blocks_[b]) return false;
        const std::uint64_t bit = row % block_rows;
        return ((blocks_[b][bit / 64] >> (bit % 64)) & 1) != 0;
    }

    /// Bytes the bits hold (the blocks made so far).
    [[nodiscard]] std::uint64_t bytes() const noexcept {
        std::uint64_t n = 0;
        for (const auto& block : blocks_)
            if (block) n += words * sizeof(std::uint64_t);
        return n;
    }

  private:
    static constexpr std::uint64_t words = block_rows / 64;
    std::vector<std::unique_ptr<std::uint64_t[]>> blocks_;
};

}  // namespace salvo::engine::detail
