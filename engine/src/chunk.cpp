#include <salvo/engine/chunk.hpp>

#include <algorithm>
#include <cstring>

namespace salvo::engine {
namespace {
constexpr std::size_t arena_block = 64 * 1024;
}

std::size_t chunk::memory_bytes() const noexcept {
    std::size_t n = capacity_ + (buffer_ ? padding : 0);
    for (std::size_t s : block_sizes_) n += s;
    n += values_.capacity() * sizeof(std::string_view) + rows_.capacity() * sizeof(row_info);
    return n;
}

void chunk::reset(std::size_t columns) {
    columns_ = columns;
    nvalues_ = 0;
    source_bytes_ = 0;
    rows_.clear();
    // Keep one arena block for reuse; large one-off blocks are given back.
    if (blocks_.size() > 1 || (!block_sizes_.empty() && block_sizes_.front() > arena_block)) {
        blocks_.clear();
        block_sizes_.clear();
    }
    block_used_ = 0;
    // Row tables that grew for an unusual chunk are trimmed back too.
    if (values_.size() > (std::size_t{1} << 22)) {
        values_.clear();
        values_.shrink_to_fit();
    }
    if (rows_.capacity() > (std::size_t{1} << 20)) rows_.shrink_to_fit();
}

void chunk::reserve_buffer(std::size_t capacity, std::size_t keep) {
    if (capacity <= capacity_ && buffer_) return;
    auto fresh = std::make_unique_for_overwrite<char[]>(capacity + padding);
    if (keep > 0) std::memcpy(fresh.get(), buffer_.get(), keep);
    std::memset(fresh.get() + capacity, 0, padding);
    buffer_ = std::move(fresh);
    capacity_ = capacity;
}

std::string_view* chunk::grow_values(std::size_t n) {
    if (nvalues_ + n > values_.size())
        values_.resize(std::max(values_.size() * 2, nvalues_ + n + 1024));
    std::string_view* p = values_.data() + nvalues_;
    nvalues_ += n;
    return p;
}

std::string_view* chunk::add_row(std::uint64_t row, std::uint64_t line) {
    rows_.push_back(row_info{row, line, errc{}, {}});
    std::string_view* v = grow_values(columns_);
    std::fill_n(v, columns_, std::string_view{});
    return v;
}

void chunk::add_row_slow(std::uint64_t row, std::uint64_t line, const std::string_view* values,
                         std::size_t n) {
    rows_.push_back(row_info{row, line, errc{}, {}});
    std::string_view* v = grow_values(columns_);
    const std::size_t k = std::min(n, columns_);
    if (k > 0) std::memcpy(static_cast<void*>(v), values, k * sizeof(std::string_view));
    if (k < columns_) [[unlikely]]
        std::fill_n(v + k, columns_ - k, std::string_view{});
}

void chunk::fail_row(std::size_t i, errc code, std::string_view message) {
    row_info& r = rows_[i];
    r.error = code;
    r.message = store(message);
}

char* chunk::allocate(std::size_t n) {
    if (blocks_.empty() || block_used_ + n > block_sizes_.back()) {
        std::size_t size = std::max(arena_block, n);
        blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
        block_sizes_.push_back(size);
        block_used_ = 0;
    }
    char* p = blocks_.back().get() + block_used_;
    block_used_ += n;
    return p;
}

std::string_view chunk::store(std::string_view bytes) {
    if (bytes.empty()) return {"", 0};
    char* p = allocate(bytes.size());
    std::memcpy(p, bytes.data(), bytes.size());
    return {p, bytes.size()};
}

}  // namespace salvo::engine
