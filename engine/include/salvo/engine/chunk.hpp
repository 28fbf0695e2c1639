#pragma once
/// A chunk of recipient rows: the unit a source produces and the engine's
/// pipeline carries between threads.

#include <salvo/engine/error.hpp>
#include <salvo/merge/template.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace salvo::engine {

/// Where one record came from and whether it is well-formed.
struct row_info {
    std::uint64_t row = 0;   ///< the Nth record the source produced, from 1
    std::uint64_t line = 0;  ///< the input line where the record starts, from 1
    errc error{};            ///< errc{} (0) when the record is well-formed
    /// When malformed, the complete reason naming file, row, line and field.
    /// Owned by the chunk (its arena).
    std::string_view message;

    [[nodiscard]] bool valid() const noexcept { return error == errc{}; }
};

/// A batch of rows with the bytes they point into.
///
/// Every value is a `std::string_view` into memory the chunk owns: the raw
/// input buffer (most values) or the chunk's arena (values that had to be
/// unescaped, or that a callback source copied in). A value whose data() is
/// nullptr is absent (see merge::row_view). Views stay valid while the chunk
/// lives, across moves: the buffers are heap blocks that a move hands over.
///
/// Move-only; not thread-safe, but a chunk may be moved to another thread
/// and read there. A malformed record is a row like any other, with
/// row_info::error set and whatever values could be read (others absent).
class chunk {
  public:
    chunk() = default;
    chunk(chunk&&) noexcept = default;
    chunk& operator=(chunk&&) noexcept = default;
    chunk(const chunk&) = delete;
    chunk& operator=(const chunk&) = delete;
    ~chunk() = default;

    /// Rows in this chunk.
    [[nodiscard]] std::size_t size() const noexcept { return rows_.size(); }
    [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }
    /// Values per row: the source's field count.
    [[nodiscard]] std::size_t columns() const noexcept { return columns_; }
    /// The values of row `i`, one per field, in field order.
    [[nodiscard]] merge::row_view values(std::size_t i) const noexcept {
        return {values_.data() + i * columns_, columns_};
    }
    [[nodiscard]] const row_info& info(std::size_t i) const noexcept { return rows_[i]; }
    /// Bytes this chunk holds on the heap (input buffer, arena, row tables).
    [[nodiscard]] std::size_t memory_bytes() const noexcept;
    /// Capacity of the raw input buffer.
    [[nodiscard]] std::size_t buffer_capacity() const noexcept { return capacity_; }
    /// The input bytes this chunk's rows were read from (after gunzip and
    /// transcoding), or 0 when unknown: rows a host program handed over.
    /// What sizes the dedupe table by bytes a row (validator::prepare).
    [[nodiscard]] std::uint64_t source_bytes() const noexcept { return source_bytes_; }

    // ---- building (used by the sources and chunk_writer) ----

    /// Empties the chunk for `columns` values per row, keeping its memory.
    void reset(std::size_t columns);
    /// The raw input buffer: `size` bytes, padded by 64 readable bytes.
    [[nodiscard]] char* buffer() noexcept { return buffer_.get(); }
    [[nodiscard]] const char* buffer() const noexcept { return buffer_.get(); }
    /// Ensures the buffer holds at least `capacity` bytes plus padding,
    /// keeping its first `keep` bytes. Only while the chunk has no rows.
    void reserve_buffer(std::size_t capacity, std::size_t keep);
    /// Appends a row of absent values and returns them for filling in.
    std::string_view* add_row(std::uint64_t row, std::uint64_t line);
    /// Appends a row holding the first min(n, columns()) of `values`; the
    /// rest are absent.
    void add_row(std::uint64_t row, std::uint64_t line, const std::string_view* values,
                 std::size_t n) {
        if (n == columns_ && n != 0 && nvalues_ + n <= values_.size()) [[likely]] {
            rows_.push_back(row_info{row, line, errc{}, {}});
            std::memcpy(static_cast<void*>(values_.data() + nvalues_), values,
                        n * sizeof(std::string_view));
            nvalues_ += n;
            return;
        }
        add_row_slow(row, line, values, n);
    }
    /// Room for the next row's values, written in place and then kept by
    /// commit_row() (no copy a row): `n` slots at the end of the table.
    /// Valid until a row is added another way or the table grows.
    [[nodiscard]] std::string_view* next_row_slots(std::size_t n) {
        if (nvalues_ + n > values_.size()) [[unlikely]]
            values_.resize(std::max(values_.size() * 2, nvalues_ + n + 1024));
        return values_.data() + nvalues_;
    }
    /// Appends the row whose first min(n, columns()) values were written
    /// at next_row_slots() (asked for at least columns() of them); the rest
    /// are absent.
    void commit_row(std::uint64_t row, std::uint64_t line, std::size_t n) {
        rows_.push_back(row_info{row, line, errc{}, {}});
        if (n < columns_) [[unlikely]]
            std::fill_n(values_.data() + nvalues_ + n, columns_ - n, std::string_view{});
        nvalues_ += columns_;
    }
    /// Marks row `i` malformed; `message` is copied into the arena.
    void fail_row(std::size_t i, errc code, std::string_view message);
    /// Marks the last row malformed.
    void fail_last(errc code, std::string_view message) {
        fail_row(rows_.size() - 1, code, message);
    }
    /// Copies `bytes` into the arena; the view lives as long as the chunk.
    [[nodiscard]] std::string_view store(std::string_view bytes);
    /// Arena space for `n` bytes the caller fills in (e.g. an unescaped value).
    [[nodiscard]] char* allocate(std::size_t n);
    /// Padding after the buffer's capacity that may always be read.
    static constexpr std::size_t padding = 64;
    /// Sets source_bytes(); reset() clears it.
    void set_source_bytes(std::uint64_t n) noexcept { source_bytes_ = n; }

  private:
    std::unique_ptr<char[]> buffer_;
    std::size_t capacity_ = 0;
    std::size_t columns_ = 0;
    std::uint64_t source_bytes_ = 0;
    // Used as a raw array: the first nvalues_ entries are live; growing it
    // never shrinks, so appending a row is one memcpy.
    std::vector<std::string_view> values_;
    std::size_t nvalues_ = 0;
    [[nodiscard]] std::string_view* grow_values(std::size_t n);
    void add_row_slow(std::uint64_t row, std::uint64_t line, const std::string_view* values,
                      std::size_t n);
    std::vector<row_info> rows_;
    // Arena: append-only blocks, so earlier views never move.
    std::vector<std::unique_ptr<char[]>> blocks_;
    std::vector<std::size_t> block_sizes_;
    std::size_t block_used_ = 0;  // bytes used in blocks_.back()
};

}  // namespace salvo::engine
